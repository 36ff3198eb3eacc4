/**
 * The DynamoDB client sync uses: region and endpoint from the `sync` and
 * `aws` sections, credentials from the agent's credential chain (refreshed
 * transparently), the SDK's own retries off (sync retries on its clock),
 * and `fetch` underneath with a timeout per request.
 */

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AwsCredentialProvider } from "../lib/aws/mod.ts";
import { type SyncConfig, syncEndpoint } from "../lib/config/mod.ts";
import { FetchHandler } from "./_fetch_handler.ts";

/** Options of {@linkcode createDynamoClient}. */
export interface DynamoClientOptions {
  sync: SyncConfig;
  /** `aws.region`, used when `sync.region` is not set. */
  awsRegion?: string;
  credentials: AwsCredentialProvider;
}

export function createDynamoClient(options: DynamoClientOptions): DynamoDBClient {
  const { sync } = options;
  const endpoint = syncEndpoint(sync, options.awsRegion);
  if (!endpoint) {
    throw new TypeError('sync needs a region: set "aws.region" or "sync.region"');
  }
  const region = sync.region ?? options.awsRegion ?? "us-east-1";
  return new DynamoDBClient({
    region,
    ...(sync.endpoint ? { endpoint: sync.endpoint } : {}),
    credentials: options.credentials,
    maxAttempts: 1,
    // fetch, not node:https: no system CA store permission, Deno's own TLS roots.
    requestHandler: new FetchHandler({ requestTimeout: sync.requestTimeout }) as never,
  });
}
