/**
 * Provisioning front door: fleet provisioning by claim, certificate
 * rotation, the identity on disk and the CSR helpers. See docs/provisioning.md.
 */

export { runClaim, TOKEN_LIFE, TOKEN_USABLE } from "./claim.ts";
export { buildCsr, type CertInfo, certInfo, generateKeyPem, keyMatchesCert } from "./csr.ts";
export {
  CREATE_FROM_CSR,
  createCertificateFromCsr,
  ProvisionError,
  registerThing,
  registerTopic,
} from "./fleet.ts";
export { type Identity, IdentityStore, type LoadedIdentity } from "./identity.ts";
export { installIdentity } from "./install.ts";
export { type IdentityUser, runRotation } from "./rotate.ts";
export {
  IdentityGate,
  identityService,
  ProvisionService,
  provisionService,
  type RotationResult,
} from "./service.ts";
