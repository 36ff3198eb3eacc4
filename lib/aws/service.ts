/**
 * The "aws" service: owns the AWS credentials the config describes
 * (`credentialsFromConfig`) for the agent's lifetime, so every cloud service
 * (CloudWatch, S3, DynamoDB sync…) shares one provider and one IoT refresh
 * loop. Depend on it with `deps: ["aws"]` and use
 * `ctx.get<AwsService>("aws").provider`.
 *
 * Start does not wait for the first credentials (offline is normal): it fails
 * only when the config cannot work (missing certificate files). With
 * provisioning on, the IoT credential provider uses the device's provisioned
 * certificate and thing (unless `aws.iot.cert` names one), rotated ones too.
 * Every secret obtained is registered with the agent's log redactor.
 */

import type { Config } from "../config/mod.ts";
import type { IdentitySource, Service, ServiceContext, ServiceFactory } from "../service.ts";
import { type AwsCredentialProvider, CredentialsError } from "./credentials.ts";
import { type ConfiguredCredentials, credentialsFromConfig } from "./from_config.ts";

/** The running service, as other services see it. */
export interface AwsService extends Service {
  /** AWS SDK v3 shape; rejects with `CredentialsError` before start. */
  readonly provider: AwsCredentialProvider;
  /** The configured region, if any. */
  readonly region: string | undefined;
}

/** True when the config names any credential source. */
export function awsEnabled(config: Config): boolean {
  return !!(config.aws.credentials || config.aws.useEnv || config.aws.iot);
}

class _AwsCredentialsService implements AwsService {
  readonly #ctx: ServiceContext;
  #creds: ConfiguredCredentials | undefined;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  get region(): string | undefined {
    return this.#ctx.config.aws.region;
  }

  readonly provider: AwsCredentialProvider = () =>
    this.#creds ? this.#creds.provider() : Promise.reject(
      new CredentialsError("CREDENTIALS_UNAVAILABLE", 'The "aws" service is not started'),
    );

  async start(signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const provision = ctx.config.provision.enabled
      ? ctx.get<IdentitySource>("provision")
      : undefined;
    this.#creds = await credentialsFromConfig(ctx.config, {
      ...(provision ? { identity: () => provision.identity() } : {}),
      configDir: ctx.configDir,
      deviceId: ctx.deviceId,
      onSecret: (s) => ctx.redactor.add(s),
      clock: ctx.clock,
      logger: ctx.log,
      signal,
    });
    ctx.log.info("AWS credentials ready", { sources: this.#creds.sources });
  }

  status(): Record<string, unknown> {
    const out: Record<string, unknown> = { sources: this.#creds?.sources ?? [] };
    if (this.#creds?.iot) out.iot = this.#creds.iot.status();
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const creds = this.#creds;
    this.#creds = undefined;
    try {
      await creds?.[Symbol.asyncDispose]();
    } catch {
      // Disposal must not throw; the refresh loop is already stopped.
    }
  }
}

/** Factory registered in `lib/services.ts`. */
export const awsService: ServiceFactory = {
  name: "aws",
  // The device's identity, when provisioning is on (a dependency that is off is skipped).
  deps: ["provision"],
  enabled: awsEnabled,
  create: (ctx) => new _AwsCredentialsService(ctx),
};
