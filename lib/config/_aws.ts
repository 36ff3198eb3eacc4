/**
 * The `aws` section: region and credentials for DynamoDB, S3, CloudWatch and
 * the IoT credential provider.
 *
 * ```json5
 * aws: { region: "eu-west-1",
 *        credentials: { accessKeyId: "…", secretAccessKey: "…" },     // static (secret: redacted)
 *        useEnv: false,                                                // AWS_ACCESS_KEY_ID…
 *        iot: { credentialsEndpoint: "xyz.credentials.iot.eu-west-1.amazonaws.com",
 *               roleAlias: "tern",
 *               // thingName: device.thing ?? device.id, cert/key/ca: mqtt.cert/key/ca
 *               refreshBeforeMs: 300000 } }
 * ```
 *
 * Credential sources are tried in order: static `credentials`, the
 * environment (`useEnv`), the AWS IoT credential provider (`iot`, cached and
 * refreshed before expiry). Relative cert/key/ca paths are resolved against
 * the config directory.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { ms, type PathBase, type PermissionNeeds } from "./_types.ts";

export const awsSection = z.strictObject({
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"').optional(),
  credentials: z.strictObject({
    accessKeyId: z.string().min(16),
    secretAccessKey: z.string().min(16),
    sessionToken: z.string().optional(),
  }).optional(),
  /** Read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN from the environment. */
  useEnv: z.boolean().default(false),
  iot: z.strictObject({
    /** Host of the AWS IoT credential provider (`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`). */
    credentialsEndpoint: z.string().regex(
      /^[A-Za-z0-9.-]+(:\d{1,5})?$/,
      'a host name like "xyz.credentials.iot.eu-west-1.amazonaws.com"',
    ),
    roleAlias: z.string().regex(/^[\w=,@-]{1,128}$/, "a role alias name"),
    /** Thing name sent as x-amzn-iot-thingname. @default device.thing ?? device.id */
    thingName: z.string().min(1).optional(),
    /** Device certificate, key and CA (PEM files). @default mqtt.cert, mqtt.key, mqtt.ca */
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    ca: z.string().min(1).optional(),
    /** Refresh this long before the temporary credentials expire. @default 300000 */
    refreshBeforeMs: ms().default(300_000),
  }).optional(),
}).prefault({});

export type AwsConfig = z.infer<typeof awsSection>;

export function awsPermissions(aws: AwsConfig, base: PathBase): Partial<PermissionNeeds> {
  const env = aws.useEnv ? ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] : [];
  const net: string[] = [];
  const read: string[] = [];
  if (aws.iot) {
    const host = aws.iot.credentialsEndpoint;
    net.push(/:\d+$/.test(host) ? host : `${host}:443`);
    for (const f of [aws.iot.cert, aws.iot.key, aws.iot.ca]) {
      if (f) read.push(resolve(base.configDir, f));
    }
  }
  return { env, net, read };
}
