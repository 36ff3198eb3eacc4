/**
 * AWS front door: SigV4 signing, credential providers, and a small caller
 * for AWS JSON-protocol APIs. Other subsystems import only this file.
 */

export {
  ALGORITHM,
  amzDate,
  canonicalRequest,
  MAX_PRESIGN_SECONDS,
  type PresignedUrl,
  type PresignOptions,
  presignUrl,
  type SignableRequest,
  type SignedRequest,
  signRequest,
  type SigV4Options,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./sigv4.ts";
export {
  type AwsCredentialProvider,
  type AwsCredentials,
  chainCredentials,
  CredentialsError,
  type CredentialsErrorCode,
  envCredentials,
  type EnvCredentialsOptions,
  type SecretSink,
  staticCredentials,
} from "./credentials.ts";
export { IotCredentials, type IotCredentialsOptions } from "./iot_credentials.ts";
export { type CredentialsStatus, RefreshingCredentials, type RefreshOptions } from "./refresh.ts";
export { AwsApiError, AwsJsonClient, type AwsJsonClientOptions } from "./json_api.ts";
export {
  type ConfiguredCredentials,
  type CredentialsContext,
  credentialsFromConfig,
} from "./from_config.ts";
export { awsEnabled, type AwsService, awsService } from "./service.ts";
