/**
 * The credentials built from config (here: the AWS IoT credential provider
 * over mTLS) plug into the official AWS SDK v3 clients: DynamoDB and S3 sign
 * with the same temporary credentials and session token, verified by a local
 * SigV4-checking endpoint.
 */

import assert from "node:assert/strict";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { configSchema } from "../lib/config/mod.ts";
import { credentialsFromConfig } from "../lib/aws/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { startIotCredentialsServer } from "./helpers/aws_iot_credentials_server.ts";
import { startAwsServer } from "./helpers/aws_sigv4_server.ts";

const KEYS = { ASIAEXAMPLE1: "secret-key-number-1" };

Deno.test("credentialsFromConfig() feeds IoT credentials to the DynamoDB and S3 SDK clients", async () => {
  await using tls = await makeTlsFixtures();
  await using iotServer = await startIotCredentialsServer(tls);
  const config = configSchema.parse({
    device: { id: "pump-0042" },
    aws: {
      region: "eu-west-1",
      iot: {
        credentialsEndpoint: iotServer.endpoint,
        roleAlias: "tern-role",
        cert: "client.crt",
        key: "client.key",
        ca: "ca.crt",
      },
    },
  });
  const ring = new RingSink();
  const hub = new LogHub({ sinks: [ring], level: "debug" });
  await using creds = await credentialsFromConfig(config, {
    configDir: tls.dir,
    onSecret: (s) => hub.redactor.add(s),
    logger: hub.logger("aws"),
  });
  assert.deepEqual(creds.sources, ["iot"]);

  await using ddbServer = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "dynamodb",
    handler: (r) =>
      new Response(JSON.stringify({ TableNames: [`t-${r.target}`] }), {
        headers: { "content-type": "application/x-amz-json-1.0" },
      }),
  });
  const ddb = new DynamoDBClient({
    region: "eu-west-1",
    endpoint: ddbServer.url,
    credentials: creds.provider,
    maxAttempts: 1,
  });
  const tables = await ddb.send(new ListTablesCommand({}));
  ddb.destroy();
  assert.deepEqual(tables.TableNames, ["t-DynamoDB_20120810.ListTables"]);
  assert.equal(ddbServer.requests[0]!.sessionToken, "session-token-number-1");

  await using s3Server = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "s3",
    handler: () =>
      new Response(
        '<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Buckets>' +
          "<Bucket><Name>tern-b</Name></Bucket></Buckets></ListAllMyBucketsResult>",
        { headers: { "content-type": "application/xml" } },
      ),
  });
  const s3 = new S3Client({
    region: "eu-west-1",
    endpoint: s3Server.url,
    forcePathStyle: true,
    credentials: creds.provider,
    maxAttempts: 1,
  });
  const buckets = await s3.send(new ListBucketsCommand({}));
  s3.destroy();
  assert.deepEqual(buckets.Buckets?.map((b) => b.Name), ["tern-b"]);
  assert.equal(s3Server.requests[0]!.sessionToken, "session-token-number-1");

  assert.equal(iotServer.requests.length, 1, "one fetch, shared by both clients");
  assert.equal(iotServer.requests[0]!.thing, "pump-0042");
  assert.equal(ddbServer.rejected + s3Server.rejected, 0);
  const logged = JSON.stringify(ring.entries());
  assert.match(logged, /Fetched AWS credentials/);
  assert.doesNotMatch(logged, /secret-key-number|session-token-number/);
});
