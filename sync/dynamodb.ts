/**
 * The five DynamoDB operations sync uses (BatchWriteItem, PutItem,
 * DeleteItem, GetItem, Query), called through `lib/aws`'s JSON-protocol
 * caller: `POST /` with `X-Amz-Target: DynamoDB_20120810.<Operation>`,
 * `application/x-amz-json-1.0`, SigV4. Inputs and outputs are DynamoDB's
 * documented JSON as is (the same shapes the SDK's commands take), with
 * binary values as base64 text, as on the wire.
 *
 * Why not `@aws-sdk/client-dynamodb`: loading it costs the agent about 16 MB
 * of idle memory for five calls (docs/dependencies.md). The SDK stays the
 * cloud side of the tests, so every call here is checked against it.
 *
 * Retries are not done here (sync retries on its own clock, `_retry.ts`);
 * failures are `AwsApiError`s (`type` = DynamoDB's error name) or the HTTP
 * client's `HttpError`s (network, timeout).
 *
 * Units: milliseconds.
 */

import { type AwsCredentialProvider, AwsJsonClient } from "../lib/aws/mod.ts";
import type { Clock } from "../lib/clock.ts";
import { HttpClient } from "../lib/http/mod.ts";

/** A DynamoDB attribute value, as DynamoDB's JSON carries it (binary as base64). */
export interface AttributeValue {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  SS?: string[];
  NS?: string[];
  BS?: string[];
}

export type AttributeMap = Record<string, AttributeValue>;

/** One request of a BatchWriteItem. */
export interface WriteRequest {
  PutRequest?: { Item: AttributeMap };
  DeleteRequest?: { Key: AttributeMap };
}

/** Expression parts shared by the writes and the query. */
interface _Expressions {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: AttributeMap;
}

export interface PutItemInput extends _Expressions {
  TableName: string;
  Item: AttributeMap;
  ConditionExpression?: string;
}

export interface DeleteItemInput extends _Expressions {
  TableName: string;
  Key: AttributeMap;
  ConditionExpression?: string;
}

export interface GetItemInput {
  TableName: string;
  Key: AttributeMap;
  ConsistentRead?: boolean;
}

export interface QueryInput extends _Expressions {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression: string;
  Limit?: number;
  ExclusiveStartKey?: AttributeMap;
}

export interface QueryOutput {
  Items?: AttributeMap[];
  LastEvaluatedKey?: AttributeMap;
}

/** Options of {@linkcode DynamoDb}. */
export interface DynamoDbOptions {
  region: string;
  /** @default `https://dynamodb.${region}.amazonaws.com` */
  endpoint?: string;
  credentials: AwsCredentialProvider;
  /** Deadline of one request, connecting to the last byte. @default 10000 */
  requestTimeout?: number;
  /** Signing times. @default systemClock */
  clock?: Clock;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** A DynamoDB client for sync's five operations. Dispose it to close its connections. */
export class DynamoDb implements AsyncDisposable {
  readonly #http: HttpClient;
  readonly #api: AwsJsonClient;

  constructor(options: DynamoDbOptions) {
    const timeout = options.requestTimeout ?? 10_000;
    this.#http = new HttpClient({
      timeoutMs: timeout,
      headersTimeoutMs: timeout,
      retries: 0,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.#api = new AwsJsonClient({
      service: "dynamodb",
      region: options.region,
      targetPrefix: "DynamoDB_20120810",
      jsonVersion: "1.0",
      ...(options.endpoint ? { endpoint: options.endpoint.replace(/\/$/, "") } : {}),
      credentials: options.credentials,
      retries: 0,
      http: this.#http,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /**
   * The cloud's clock minus this device's, ms, as learned from a refused
   * signature (`RequestTimeTooSkewed`); 0 until then.
   */
  get clockSkewMs(): number {
    return this.#api.clockSkewMs;
  }

  /** The URL requests go to. */
  get endpoint(): string {
    return this.#api.endpoint;
  }

  /** Up to 25 puts and deletes; what DynamoDB did not process comes back in `UnprocessedItems`. */
  batchWriteItem(
    input: { RequestItems: Record<string, WriteRequest[]> },
    options: CallOptions = {},
  ): Promise<{ UnprocessedItems?: Record<string, WriteRequest[]> }> {
    return this.#api.call("BatchWriteItem", input, options);
  }

  putItem(input: PutItemInput, options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#api.call("PutItem", input, options);
  }

  deleteItem(input: DeleteItemInput, options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#api.call("DeleteItem", input, options);
  }

  getItem(input: GetItemInput, options: CallOptions = {}): Promise<{ Item?: AttributeMap }> {
    return this.#api.call("GetItem", input, options);
  }

  query(input: QueryInput, options: CallOptions = {}): Promise<QueryOutput> {
    return this.#api.call("Query", input, options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#api[Symbol.asyncDispose]();
    this.#http.close();
  }
}
