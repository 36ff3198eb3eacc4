/**
 * The `provision` section: the device's own identity (certificate and key)
 * by AWS IoT fleet provisioning by claim, and its automatic rotation (see
 * docs/provisioning.md). The broker and its CA are `mqtt.url`/`endpoint` and
 * `mqtt.ca`; `mqtt.cert`/`mqtt.key` stay unset (the identity lives in
 * `<state>/identity`).
 *
 * ```json5
 * provision: {
 *   enabled: true,
 *   claim: { cert: "claim/claim.crt", key: "claim/claim.key" },   // shared by the whole batch
 *   template: "TernFleet",
 *   parameters: { SerialNumber: "${serial}", ThingName: "${deviceId}", MacAddress: "${mac}" },
 *   rotation: { at: 0.8 },
 * }
 * ```
 *
 * Parameter values may use `${deviceId}`, `${thing}` (device.thing, else the
 * id), `${serial}` and `${mac}` (device facts, see `facts`). Units: ms; `at`
 * is a share of the certificate's lifetime.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { ms, type PathBase, type PermissionNeeds } from "./_types.ts";

export const provisionSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** The claim certificate and key (relative to the config dir); unused once provisioned. */
  claim: z.strictObject({
    cert: z.string().min(1),
    key: z.string().min(1),
  }).optional(),
  /** The fleet provisioning template's name. */
  template: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/, "a template name (1-36 letters, digits, _ -)")
    .optional(),
  /** Template parameters; values may use ${deviceId}, ${thing}, ${serial}, ${mac}. */
  parameters: z.record(z.string().min(1), z.string()).default({}),
  /** Where device facts come from. */
  facts: z.strictObject({
    /** File holding the serial number. @default "/proc/device-tree/serial-number" */
    serialFile: z.string().min(1).default("/proc/device-tree/serial-number"),
    /** Network interface whose MAC address is ${mac}. @default "eth0" */
    interface: z.string().min(1).default("eth0"),
  }).prefault({}),
  /** MQTT client id of the claim connection. @default the device id */
  clientId: z.string().min(1).max(128).optional(),
  /** Directory of the identity files, relative to the state dir. */
  dir: z.string().min(1).default("identity"),
  /** Time to wait for each reply of the provisioning service. */
  requestTimeout: ms().min(100).default(10_000),
  /** Retry delays after a failure: full jitter between 0 and min·2^attempt, capped at max. */
  retry: z.strictObject({
    min: ms().min(1).default(5_000),
    max: ms().min(1).default(600_000),
  }).prefault({}),
  rotation: z.strictObject({
    enabled: z.boolean().default(true),
    /** Rotate when this share of the certificate's lifetime has passed. */
    at: z.number().min(0.01).max(0.99).default(0.8),
    /** Time for the new certificate to connect and pass the round trip, else roll back. */
    proveTimeout: ms().min(100).default(30_000),
    /** Topic of the round trip proving the new certificate (the device's own). */
    proveTopic: z.string().min(1).default("tern/${thing}/identity/proof"),
    /** Where the commit is announced (old and new certificate ids, so the old can be revoked). */
    commitTopic: z.string().min(1).default("tern/${thing}/identity/rotated"),
    /** A message here asks for a rotation now (a cloud job or operator). */
    requestTopic: z.string().min(1).default("tern/${thing}/identity/rotate"),
  }).prefault({}),
}).prefault({}).superRefine((p, ctx) => {
  if (p.claim && !p.template) {
    ctx.addIssue({
      code: "custom",
      path: ["template"],
      message: 'Set "template" (the fleet provisioning template) with "claim"',
    });
  }
  if (p.retry.min > p.retry.max) {
    ctx.addIssue({ code: "custom", path: ["retry", "min"], message: "must not exceed retry.max" });
  }
});

export type ProvisionConfig = z.infer<typeof provisionSection>;

/** The claim files and the serial file are read; the identity lives in the state dir. */
export function provisionPermissions(
  p: ProvisionConfig,
  base: PathBase,
): Partial<PermissionNeeds> {
  if (!p.enabled) return {};
  const read = p.claim
    ? [resolve(base.configDir, p.claim.cert), resolve(base.configDir, p.claim.key)]
    : [];
  if (Object.values(p.parameters).some((v) => v.includes("${serial}"))) {
    read.push(p.facts.serialFile);
  }
  if (Object.values(p.parameters).some((v) => v.includes("${mac}"))) {
    read.push(`/sys/class/net/${p.facts.interface}/address`);
  }
  return { read };
}
