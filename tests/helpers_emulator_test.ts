/**
 * The in-process emulators survive clients that die mid-request: a client
 * killed while sending its body (a `kill -9` of an agent under test) must
 * never become an uncaught error that fails the test module, and the
 * emulator keeps serving. Each case sends raw bytes on a socket and cuts it.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { createSyncTable, startDynalite } from "./helpers/dynalite.ts";

const HEAD = (length: number) =>
  "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Content-Type: application/x-amz-json-1.0\r\n" +
  "X-Amz-Target: DynamoDB_20120810.DescribeTable\r\n" +
  "X-Amz-Date: 20260101T000000Z\r\n" +
  "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, " +
  "SignedHeaders=host, Signature=00\r\n" +
  `Content-Length: ${length}\r\n\r\n`;

/** Send `bytes`, wait for them to be read, then destroy the socket. */
async function sendAndCut(port: number, bytes: string): Promise<void> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  await new Promise((r) => setTimeout(r, 30));
  socket.destroy();
  // Let the server see the end of the connection.
  await new Promise((r) => setTimeout(r, 50));
}

for (const faults of [false, true]) {
  Deno.test(`dynalite${faults ? " behind the fault proxy" : ""}: a client cut mid-body fails nothing and the emulator keeps serving`, async () => {
    await using ddb = await startDynalite({ memory: true, faults });
    const cloud = ddb.client();
    await createSyncTable(cloud, "abort-t");
    const body = JSON.stringify({ TableName: "abort-t" });
    await sendAndCut(ddb.port, HEAD(body.length) + body.slice(0, 5)); // part of the body
    await sendAndCut(ddb.port, HEAD(1000)); // headers only
    await sendAndCut(ddb.port, HEAD(body.length) + body); // whole request, reply unread
    const table = await cloud.send(new DescribeTableCommand({ TableName: "abort-t" }));
    assert.equal(table.Table?.TableStatus, "ACTIVE");
  });
}
