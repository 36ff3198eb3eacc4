/**
 * Sync's own DynamoDB client (sync/dynamodb.ts) on the wire: each operation
 * goes through the SigV4-verifying endpoint (the AWS SDK's signer recomputes
 * every signature) and on to dynalite, and what it wrote is read back with
 * the official `@aws-sdk/client-dynamodb`. DynamoDB's errors arrive as the
 * types sync's retry and conflict logic test for.
 */

import assert from "node:assert/strict";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { AwsApiError } from "../lib/aws/mod.ts";
import { DynamoDb } from "../sync/mod.ts";
import { isConditionFailed, isRetryable } from "../sync/_retry.ts";
import { startAwsServer } from "./helpers/aws_sigv4_server.ts";
import { createSyncTable, startDynalite } from "./helpers/dynalite.ts";
import { plainItem } from "./helpers/sdk_items.ts";

const KEYS = { AKIDTERN: "tern-secret" };
const credentials = () =>
  Promise.resolve({ accessKeyId: "AKIDTERN", secretAccessKey: "tern-secret" });

Deno.test("sync's DynamoDB client: five operations, signed, read back by the SDK", async () => {
  await using ddb = await startDynalite({ memory: true });
  const sdk = ddb.client();
  await createSyncTable(sdk, "tern-t");
  // The verifying endpoint forwards each verified request to dynalite as it came.
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "dynamodb",
    handler: (r) =>
      fetch(ddb.endpoint, {
        method: "POST",
        headers: {
          "content-type": r.headers.get("content-type")!,
          "x-amz-target": r.target!,
          authorization: r.headers.get("authorization")!,
          "x-amz-date": r.headers.get("x-amz-date")!,
        },
        body: r.body as BodyInit,
      }),
  });
  await using client = new DynamoDb({ region: "eu-west-1", endpoint: aws.url, credentials });

  const item = (sk: string, v: number) => ({
    pk: { S: "Reading#d1" },
    sk: { S: sk },
    value: { N: String(v) },
    tags: { L: [{ S: "a" }, { NULL: true }] },
    raw: { B: btoa("\x00\x01\xff") },
  });
  await client.putItem({ TableName: "tern-t", Item: item("a", 1) });
  const batch = await client.batchWriteItem({
    RequestItems: {
      "tern-t": [{ PutRequest: { Item: item("b", 2) } }, { PutRequest: { Item: item("c", 3) } }],
    },
  });
  assert.deepEqual(batch.UnprocessedItems ?? {}, {});
  await client.deleteItem({
    TableName: "tern-t",
    Key: { pk: { S: "Reading#d1" }, sk: { S: "c" } },
  });

  // The official client reads what ours wrote, binary included.
  const got = await sdk.send(
    new GetItemCommand({ TableName: "tern-t", Key: { pk: { S: "Reading#d1" }, sk: { S: "b" } } }),
  );
  assert.equal(got.Item?.value?.N, "2");
  assert.deepEqual([...got.Item!.raw!.B!], [0, 1, 255]);
  assert.deepEqual(plainItem(got.Item!).tags, ["a", null]);
  const gone = await sdk.send(
    new GetItemCommand({ TableName: "tern-t", Key: { pk: { S: "Reading#d1" }, sk: { S: "c" } } }),
  );
  assert.equal(gone.Item, undefined);

  // Ours reads what the official client wrote.
  await sdk.send(
    new PutItemCommand({
      TableName: "tern-t",
      Item: {
        pk: { S: "Reading#d1" },
        sk: { S: "d" },
        value: { N: "4" },
        raw: { B: new Uint8Array([0, 1, 255]) },
        _to: { S: "d9" },
        updated: { S: "2026-01-01T00:00:00Z" },
      },
    }),
  );
  const mine = await client.getItem({
    TableName: "tern-t",
    Key: { pk: { S: "Reading#d1" }, sk: { S: "d" } },
    ConsistentRead: true,
  });
  assert.equal(mine.Item?.value?.N, "4");
  assert.equal(mine.Item?.raw?.B, btoa("\x00\x01\xff"));
  const page = await client.query({
    TableName: "tern-t",
    IndexName: "tern-down",
    KeyConditionExpression: "#t = :t",
    ExpressionAttributeNames: { "#t": "_to" },
    ExpressionAttributeValues: { ":t": { S: "d9" } },
    Limit: 10,
  });
  assert.deepEqual(page.Items?.map((i) => i.sk?.S), ["d"]);

  // On the wire: DynamoDB's JSON 1.0 protocol, one target per operation, all verified.
  assert.equal(aws.rejected, 0);
  assert.deepEqual(
    aws.requests.map((r) => r.target),
    ["PutItem", "BatchWriteItem", "DeleteItem", "GetItem", "Query"].map((o) =>
      `DynamoDB_20120810.${o}`
    ),
  );
  for (const r of aws.requests) {
    assert.equal(r.headers.get("content-type"), "application/x-amz-json-1.0");
  }

  // A failed condition and a refused item come back as the types sync tests for.
  const conflict = await client.putItem({
    TableName: "tern-t",
    Item: item("a", 9),
    ConditionExpression: "attribute_not_exists(pk)",
  }).catch((e) => e);
  assert.ok(conflict instanceof AwsApiError);
  assert.equal(conflict.type, "ConditionalCheckFailedException");
  assert.ok(isConditionFailed(conflict));
  assert.equal(isRetryable(conflict), false);
  const refused = await client.putItem({ TableName: "tern-t", Item: { pk: { S: "x" } } })
    .catch((e) => e);
  assert.ok(refused instanceof AwsApiError);
  assert.equal(refused.type, "ValidationException");
  assert.equal(isRetryable(refused), false);
});

Deno.test("sync's DynamoDB client: a refused connection and a 5xx are retryable, a bad key is not", async () => {
  let answer = { status: 500, type: "InternalServerError" };
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "dynamodb",
    handler: () =>
      Response.json(
        { __type: `com.amazonaws.dynamodb.v20120810#${answer.type}`, message: "x" },
        { status: answer.status },
      ),
  });
  await using client = new DynamoDb({ region: "eu-west-1", endpoint: aws.url, credentials });
  const server = await client.getItem({ TableName: "tern-t", Key: {} }).catch((e) => e);
  assert.equal(server.type, "InternalServerError");
  assert.ok(isRetryable(server));
  answer = { status: 400, type: "ResourceNotFoundException" };
  assert.equal(
    isRetryable(await client.getItem({ TableName: "tern-t", Key: {} }).catch((e) => e)),
    false,
  );

  await using wrongKey = new DynamoDb({
    region: "eu-west-1",
    endpoint: aws.url,
    credentials: () => Promise.resolve({ accessKeyId: "AKIDTERN", secretAccessKey: "wrong" }),
  });
  const denied = await wrongKey.getItem({ TableName: "tern-t", Key: {} }).catch((e) => e);
  assert.equal(denied.status, 403);
  assert.equal(isRetryable(denied), false);

  // Nothing listens on the port any more: a network failure, retried by sync.
  const closed = new DynamoDb({
    region: "eu-west-1",
    endpoint: aws.url,
    credentials,
    requestTimeout: 2000,
  });
  await aws[Symbol.asyncDispose]();
  const refused = await closed.getItem({ TableName: "tern-t", Key: {} }).catch((e) => e);
  assert.ok(isRetryable(refused), String(refused));
  await closed[Symbol.asyncDispose]();
});
