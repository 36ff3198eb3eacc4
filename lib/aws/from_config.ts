/**
 * The AWS credential chain described by the config: static `aws.credentials`,
 * then the environment (`aws.useEnv`), then the AWS IoT credential provider
 * (`aws.iot`, cached and refreshed in the background; not started when static
 * keys are configured, since they always win). Every secret goes to
 * `onSecret` (wire it to `LogHub.redactor.add`).
 *
 * The IoT provider's certificate and key: `aws.iot.cert`/`key` when set, else
 * the provisioned identity when the caller gives one (`identity`: read at
 * each fetch, so a rotated certificate is used from the next refresh on, and
 * until the device has one a fetch fails with CREDENTIALS_UNAVAILABLE), else
 * `mqtt.cert`/`key`.
 *
 * ```ts
 * await using creds = await credentialsFromConfig(config, { configDir, deviceId, onSecret });
 * const ddb = new DynamoDBClient({ region: config.aws.region, credentials: creds.provider });
 * ```
 */

import { resolve } from "../path.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { thingName } from "../service.ts";
import {
  type AwsCredentialProvider,
  type AwsCredentials,
  chainCredentials,
  CredentialsError,
  envCredentials,
  type SecretSink,
  staticCredentials,
} from "./credentials.ts";
import { IotCredentials } from "./iot_credentials.ts";
import { RefreshingCredentials } from "./refresh.ts";

/** Context of {@linkcode credentialsFromConfig}. */
export interface CredentialsContext {
  /** Where relative cert/key/ca paths are resolved. */
  configDir: string;
  /** Thing name fallback when neither aws.iot.thingName nor device.thing is set. */
  deviceId?: string;
  onSecret?: SecretSink;
  clock?: Clock;
  logger?: Logger;
  /** Stops the background refresh. */
  signal?: AbortSignal;
  /** Environment reader for `useEnv`. @default Deno.env.get where permitted */
  env?: (name: string) => string | undefined;
  /** The device's provisioned identity now (lib/cloud/provision), if it has one. */
  identity?: () => { certPem: string; keyPem: string; thing: string } | undefined;
}

/** The configured credentials. Dispose to stop the refresh and close connections. */
export interface ConfiguredCredentials extends AsyncDisposable {
  /** AWS SDK v3 shape. */
  provider: AwsCredentialProvider;
  /** Names of the sources, in the order tried ("static", "env", "iot"). */
  sources: string[];
  /** The IoT source's cache (status for /api/status), when configured. */
  iot?: RefreshingCredentials;
}

/** Build the chain; starts the IoT refresh in the background when configured. */
export async function credentialsFromConfig(
  config: Config,
  context: CredentialsContext,
): Promise<ConfiguredCredentials> {
  const aws = config.aws;
  const chain: { name: string; provider: AwsCredentialProvider }[] = [];
  if (aws.credentials) {
    chain.push({ name: "static", provider: staticCredentials(aws.credentials, context.onSecret) });
  }
  if (aws.useEnv) {
    chain.push({
      name: "env",
      provider: envCredentials({
        ...(context.env ? { env: context.env } : {}),
        ...(context.onSecret ? { onSecret: context.onSecret } : {}),
      }),
    });
  }
  let iot: IotCredentials | undefined;
  let refreshing: RefreshingCredentials | undefined;
  if (aws.iot && !aws.credentials) { // static keys always win: no refresh loop behind them
    const iotConfig = aws.iot;
    const read = (f: string) => Deno.readTextFile(resolve(context.configDir, f));
    const ca = iotConfig.ca ?? config.mqtt.ca;
    const caCerts = ca ? [await read(ca)] : undefined;
    const make = (cert: string, key: string, thingName: string) =>
      new IotCredentials({
        endpoint: iotConfig.credentialsEndpoint,
        roleAlias: iotConfig.roleAlias,
        thingName,
        cert,
        key,
        ...(caCerts ? { caCerts } : {}),
        ...(context.onSecret ? { onSecret: context.onSecret } : {}),
      });
    let fetch: () => Promise<AwsCredentials>;
    if (!iotConfig.cert && context.identity) {
      // The provisioned identity: a new mTLS client whenever its certificate changed.
      const identity = context.identity;
      let certPem = "";
      fetch = async () => {
        const id = identity();
        if (!id) {
          throw new CredentialsError(
            "CREDENTIALS_UNAVAILABLE",
            "The device has no identity yet (provisioning has not finished)",
          );
        }
        if (!iot || id.certPem !== certPem) {
          const old = iot;
          iot = make(id.certPem, id.keyPem, iotConfig.thingName ?? id.thing);
          certPem = id.certPem;
          await old?.[Symbol.asyncDispose]();
        }
        return await iot.fetch();
      };
    } else {
      const cert = iotConfig.cert ?? config.mqtt.cert;
      const key = iotConfig.key ?? config.mqtt.key;
      // (No device id given and none in config: "", refused below.)
      const thing = iotConfig.thingName ?? thingName(config, context.deviceId ?? "");
      if (!cert || !key || !thing) {
        throw new TypeError(
          'aws.iot needs a device certificate and key ("aws.iot.cert"/"aws.iot.key" or "mqtt.cert"/"mqtt.key", or provisioning) and a thing name',
        );
      }
      const fixed = make(await read(cert), await read(key), thing);
      iot = fixed;
      fetch = fixed.fetch;
    }
    refreshing = new RefreshingCredentials(fetch, {
      refreshBeforeMs: aws.iot.refreshBeforeMs,
      ...(context.clock ? { clock: context.clock } : {}),
      ...(context.logger ? { logger: context.logger } : {}),
      ...(context.onSecret ? { onSecret: context.onSecret } : {}),
    });
    refreshing.start(context.signal);
    chain.push({ name: "iot", provider: refreshing.provider });
  }
  const provider: AwsCredentialProvider = chain.length
    ? chainCredentials(chain)
    : () =>
      Promise.reject(
        new CredentialsError(
          "CREDENTIALS_UNAVAILABLE",
          'No AWS credentials configured (set "aws.credentials", "aws.useEnv" or "aws.iot")',
        ),
      );
  return {
    provider,
    sources: chain.map((c) => c.name),
    ...(refreshing ? { iot: refreshing } : {}),
    async [Symbol.asyncDispose]() {
      await refreshing?.[Symbol.asyncDispose]();
      await iot?.[Symbol.asyncDispose]();
    },
  };
}
