/**
 * A local AWS IoT credential provider for tests: a node:https server on
 * 127.0.0.1 that requires a client certificate signed by the fixtures' CA,
 * serves `GET /role-aliases/<roleAlias>/credentials` (checking the
 * `x-amzn-iot-thingname` header is present) and returns numbered temporary
 * credentials (`ASIAEXAMPLE<n>`, `secret-key-number-<n>`,
 * `session-token-number-<n>`) expiring `lifetimeMs` after `now()`.
 * Set `status` to make it fail.
 *
 * ```ts
 * await using tls = await makeTlsFixtures();
 * await using iot = await startIotCredentialsServer(tls, { now: () => clock.now() });
 * // iot.endpoint = "127.0.0.1:<port>", iot.requests, iot.status = 503
 * ```
 */

import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { TlsFixtures } from "./tls.ts";

/** Options of {@linkcode startIotCredentialsServer}. */
export interface IotCredentialsServerOptions {
  /** Role alias served. @default "tern-role" */
  roleAlias?: string;
  /** Lifetime of the credentials in ms. @default 900000 (15 min, the AWS minimum) */
  lifetimeMs?: number;
  /** Time source for `expiration`. @default Date.now */
  now?: () => number;
}

export interface IotCredentialsServer extends AsyncDisposable {
  /** `127.0.0.1:<port>`, for `aws.iot.credentialsEndpoint`. */
  endpoint: string;
  /** Every request: path, thing-name header, client certificate CN. */
  requests: { path: string; thing: string | undefined; cn: string | undefined }[];
  /** Status to answer with; 200 = credentials. @default 200 */
  status: number;
}

export async function startIotCredentialsServer(
  tls: TlsFixtures,
  options: IotCredentialsServerOptions = {},
): Promise<IotCredentialsServer> {
  const alias = options.roleAlias ?? "tern-role";
  const lifetime = options.lifetimeMs ?? 900_000;
  const now = options.now ?? Date.now;
  const state = { requests: [] as IotCredentialsServer["requests"], status: 200 };
  const server = createServer({
    cert: tls.serverCert,
    key: tls.serverKey,
    ca: tls.caCert,
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    const thing = req.headers["x-amzn-iot-thingname"] as string | undefined;
    const n = state.requests.push({
      path: req.url ?? "",
      thing,
      cn: [(req.socket as TLSSocket).getPeerCertificate().subject?.CN].flat()[0],
    });
    res.setHeader("content-type", "application/json");
    if (state.status !== 200) {
      res.writeHead(state.status).end('{"message":"Service unavailable"}');
      return;
    }
    if (req.url !== `/role-aliases/${alias}/credentials` || !thing) {
      res.writeHead(403).end('{"message":"Access Denied"}');
      return;
    }
    res.end(JSON.stringify({
      credentials: {
        accessKeyId: `ASIAEXAMPLE${n}`,
        secretAccessKey: `secret-key-number-${n}`,
        sessionToken: `session-token-number-${n}`,
        expiration: new Date(now() + lifetime).toISOString(),
      },
    }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(state, {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
