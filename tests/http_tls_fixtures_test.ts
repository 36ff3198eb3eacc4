/**
 * The shared TLS fixtures: v3 certificates that rustls (fetch with
 * `Deno.createHttpClient`) and node:https accept for mutual TLS, and a
 * client certificate from another CA that the server rejects.
 */

import assert from "node:assert/strict";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { makeTlsFixtures } from "./helpers/tls.ts";

Deno.test("makeTlsFixtures() certificates do mutual TLS between fetch and node:https", async () => {
  await using tls = await makeTlsFixtures();
  await using other = await makeTlsFixtures();
  const text = new TextDecoder().decode(
    (await new Deno.Command("openssl", {
      args: ["x509", "-in", tls.paths.serverCert, "-noout", "-text"],
    })
      .output()).stdout,
  );
  assert.match(text, /Version: 3/);
  assert.match(text, /IP Address:127\.0\.0\.1/);

  const server = createServer({
    cert: tls.serverCert,
    key: tls.serverKey,
    ca: tls.caCert,
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(`hello ${peer.subject?.CN}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const good = Deno.createHttpClient({
      caCerts: [tls.caCert],
      cert: tls.clientCert,
      key: tls.clientKey,
    });
    const res = await fetch(`https://127.0.0.1:${port}/`, { client: good });
    assert.equal(await res.text(), "hello tern-device");
    good.close();

    const bad = Deno.createHttpClient({
      caCerts: [tls.caCert],
      cert: other.clientCert,
      key: other.clientKey,
    });
    await assert.rejects(fetch(`https://127.0.0.1:${port}/`, { client: bad }));
    bad.close();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
