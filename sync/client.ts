/**
 * The DynamoDB client sync uses: region and endpoint from the `sync` and
 * `aws` sections, credentials from the agent's credential chain (refreshed
 * transparently), no retries of its own (sync retries on its clock), and a
 * deadline per request (`sync.requestTimeout`).
 */

import type { AwsCredentialProvider } from "../lib/aws/mod.ts";
import type { Clock } from "../lib/clock.ts";
import { type SyncConfig, syncEndpoint } from "../lib/config/mod.ts";
import { DynamoDb } from "./dynamodb.ts";

/** Options of {@linkcode createDynamoClient}. */
export interface DynamoClientOptions {
  sync: SyncConfig;
  /** `aws.region`, used when `sync.region` is not set. */
  awsRegion?: string;
  credentials: AwsCredentialProvider;
  /** Signing times. @default systemClock */
  clock?: Clock;
}

export function createDynamoClient(options: DynamoClientOptions): DynamoDb {
  const { sync } = options;
  const endpoint = syncEndpoint(sync, options.awsRegion);
  if (!endpoint) {
    throw new TypeError('sync needs a region: set "aws.region" or "sync.region"');
  }
  return new DynamoDb({
    region: sync.region ?? options.awsRegion ?? "us-east-1",
    endpoint: endpoint.href,
    credentials: options.credentials,
    requestTimeout: sync.requestTimeout,
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
