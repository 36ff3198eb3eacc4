/**
 * The `aws` section: region and credentials for DynamoDB, S3, CloudWatch and
 * the IoT credential provider.
 *
 * ```json5
 * aws: { region: "eu-west-1",
 *        credentials: { accessKeyId: "…", secretAccessKey: "…" },     // static (secret: redacted)
 *        iot: { credentialsEndpoint: "xyz.credentials.iot.eu-west-1.amazonaws.com", roleAlias: "tern" } }
 * ```
 */

import { z } from "zod";
import type { PathBase, PermissionNeeds } from "./_types.ts";

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
    credentialsEndpoint: z.string().min(1),
    roleAlias: z.string().min(1),
  }).optional(),
}).prefault({});

export type AwsConfig = z.infer<typeof awsSection>;

export function awsPermissions(aws: AwsConfig, _base: PathBase): Partial<PermissionNeeds> {
  const env = aws.useEnv ? ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] : [];
  const net = aws.iot ? [`${aws.iot.credentialsEndpoint}:443`] : [];
  return { env, net };
}
