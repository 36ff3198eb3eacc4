/**
 * AWS credentials and their providers.
 *
 * A provider is `() => Promise<AwsCredentials>`, the shape the AWS SDK v3
 * clients accept as `credentials`, so the DynamoDB and S3 clients and Tern's
 * own SigV4 callers share one source. Providers here:
 * - `staticCredentials()`: keys from config (secret; registered with the redactor),
 * - `envCredentials()`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
 * - `chainCredentials()`: the first provider that yields credentials,
 * - `iotCredentials()` (in `iot_credentials.ts`): the AWS IoT credential provider,
 * - `RefreshingCredentials` (in `refresh.ts`): cache, refresh before expiry, back off.
 *
 * Every secret a provider obtains (secret keys, session tokens) is passed to
 * the `onSecret` callback (wire it to `LogHub.redactor.add`) before anyone
 * else sees it, so it can never reach a log line.
 */

import { type EnvReader, readEnv } from "../env.ts";

/** Credentials to sign with. `expiration` is absent for long-term keys. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** A credential provider, in the shape AWS SDK v3 clients accept. */
export type AwsCredentialProvider = () => Promise<AwsCredentials>;

/** Called with every secret value a provider obtains (register it with the log redactor). */
export type SecretSink = (secret: string) => void;

/** Error codes of {@linkcode CredentialsError}. */
export type CredentialsErrorCode =
  /** The provider has nothing to offer (not configured): a chain tries the next one. */
  | "CREDENTIALS_UNAVAILABLE"
  /** The provider is configured but getting credentials failed. */
  | "CREDENTIALS_FAILED";

/** No credentials could be obtained. */
export class CredentialsError extends Error {
  override name = "CredentialsError";
  readonly code: CredentialsErrorCode;
  constructor(code: CredentialsErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Pass the secret parts of `creds` to `onSecret`. */
export function registerSecrets(creds: AwsCredentials, onSecret?: SecretSink): void {
  if (!onSecret) return;
  onSecret(creds.secretAccessKey);
  if (creds.sessionToken) onSecret(creds.sessionToken);
}

/** Fixed credentials (from config). The secrets are registered at once. */
export function staticCredentials(
  creds: AwsCredentials,
  onSecret?: SecretSink,
): AwsCredentialProvider {
  if (!creds.accessKeyId || !creds.secretAccessKey) {
    throw new TypeError("Static AWS credentials need accessKeyId and secretAccessKey");
  }
  registerSecrets(creds, onSecret);
  const frozen = Object.freeze({ ...creds });
  return () => Promise.resolve(frozen);
}

/** Options of {@linkcode envCredentials}. */
export interface EnvCredentialsOptions {
  /** Reads one variable. @default readEnv (undefined when unset or not permitted) */
  env?: EnvReader;
  onSecret?: SecretSink;
}

/** Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`. */
export function envCredentials(options: EnvCredentialsOptions = {}): AwsCredentialProvider {
  const env = options.env ?? readEnv;
  return () => {
    const accessKeyId = env("AWS_ACCESS_KEY_ID");
    const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
    if (!accessKeyId || !secretAccessKey) {
      return Promise.reject(
        new CredentialsError(
          "CREDENTIALS_UNAVAILABLE",
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
        ),
      );
    }
    const sessionToken = env("AWS_SESSION_TOKEN");
    const creds: AwsCredentials = sessionToken
      ? { accessKeyId, secretAccessKey, sessionToken }
      : { accessKeyId, secretAccessKey };
    registerSecrets(creds, options.onSecret);
    return Promise.resolve(creds);
  };
}

/**
 * The first provider that yields credentials. A provider failing with
 * `CREDENTIALS_UNAVAILABLE` passes to the next; when all fail, the error names
 * each failure.
 */
export function chainCredentials(
  providers: { name: string; provider: AwsCredentialProvider }[],
): AwsCredentialProvider {
  if (providers.length === 0) throw new TypeError("chainCredentials() needs a provider");
  return async () => {
    const failures: string[] = [];
    const causes: unknown[] = [];
    for (const { name, provider } of providers) {
      try {
        return await provider();
      } catch (err) {
        failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        causes.push(err);
      }
    }
    const allUnavailable = causes.every((e) =>
      e instanceof CredentialsError && e.code === "CREDENTIALS_UNAVAILABLE"
    );
    throw new CredentialsError(
      allUnavailable ? "CREDENTIALS_UNAVAILABLE" : "CREDENTIALS_FAILED",
      `No AWS credentials (${failures.join("; ")})`,
      { cause: causes.length === 1 ? causes[0] : new AggregateError(causes) },
    );
  };
}
