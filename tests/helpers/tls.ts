/**
 * Test TLS fixtures: a private CA, a server certificate and a client
 * certificate, generated with the `openssl` CLI into a directory (a fresh temp
 * dir by default). Every certificate is X.509 v3 with extensions (rustls
 * rejects v1): the CA has `basicConstraints=critical,CA:TRUE`, the server has
 * `extendedKeyUsage=serverAuth` and a subjectAltName covering `localhost`,
 * `127.0.0.1` and `::1`, the client has `extendedKeyUsage=clientAuth`.
 *
 * Keys are ECDSA P-256 in PKCS#8 PEM (fast to generate, accepted by rustls,
 * node:tls, mosquitto and AWS IoT alike); pass `keyType: "rsa"` for RSA 2048.
 *
 * ```ts
 * await using tls = await makeTlsFixtures();
 * const client = Deno.createHttpClient({
 *   caCerts: [tls.caCert], cert: tls.clientCert, key: tls.clientKey,
 * });
 * // node:https server: { cert: tls.serverCert, key: tls.serverKey, ca: tls.caCert, requestCert: true }
 * ```
 *
 * Files written (all PEM): `ca.crt`, `ca.key`, `server.crt`, `server.key`,
 * `client.crt`, `client.key`; `paths` holds their absolute names (for tools
 * that want files, like mosquitto). Calling it twice gives two unrelated CAs,
 * which is how a test gets a client certificate the server must reject.
 */

import { join } from "node:path";

/** Options of {@linkcode makeTlsFixtures}. */
export interface TlsFixtureOptions {
  /** Common name of the client certificate (the device / thing name). @default "tern-device" */
  clientCN?: string;
  /** Common name of the server certificate. @default "localhost" */
  serverCN?: string;
  /** subjectAltName DNS names of the server. @default ["localhost"] */
  serverDns?: string[];
  /** subjectAltName IP addresses of the server. @default ["127.0.0.1", "::1"] */
  serverIps?: string[];
  /** Key algorithm. @default "ec" (P-256) */
  keyType?: "ec" | "rsa";
  /** Validity in days. @default 2 */
  days?: number;
}

/** Absolute paths of the PEM files. */
export interface TlsFixturePaths {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** PEM text of every certificate and key, their file paths, and cleanup. */
export interface TlsFixtures extends AsyncDisposable {
  /** Directory holding the files. */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Common name of the client certificate. */
  clientCN: string;
  paths: TlsFixturePaths;
  /** Remove `dir` when this call created it (a passed `dir` is left alone). */
  cleanup(): Promise<void>;
}

/**
 * Generate a CA, a server and a client certificate into `dir` (a new temp dir
 * when omitted). Needs the `openssl` binary on PATH and `--allow-run=openssl`.
 */
export async function makeTlsFixtures(
  dir?: string,
  options: TlsFixtureOptions = {},
): Promise<TlsFixtures> {
  const created = dir === undefined;
  const out = dir ?? await Deno.makeTempDir({ prefix: "tern-tls-" });
  if (!created) await Deno.mkdir(out, { recursive: true });
  const clientCN = options.clientCN ?? "tern-device";
  const days = String(options.days ?? 2);
  const keyType = options.keyType ?? "ec";
  const p = (name: string) => join(out, name);
  const paths: TlsFixturePaths = {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
  };

  await Promise.all([
    _genKey(paths.caKey, keyType),
    _genKey(paths.serverKey, keyType),
    _genKey(paths.clientKey, keyType),
  ]);

  // CA: self-signed, v3 extensions given on the command line.
  await _openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    paths.caKey,
    "-sha256",
    "-days",
    days,
    "-subj",
    "/CN=Tern Test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-addext",
    "subjectKeyIdentifier=hash",
    "-out",
    paths.caCert,
  ]);

  const dns = options.serverDns ?? ["localhost"];
  const ips = options.serverIps ?? ["127.0.0.1", "::1"];
  const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(",");
  await _leaf(paths, "server", options.serverCN ?? "localhost", days, [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${san}`,
  ]);
  await _leaf(paths, "client", clientCN, days, [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=clientAuth",
  ]);

  const read = (f: string) => Deno.readTextFile(f);
  const [caCert, caKey, serverCert, serverKey, clientCert, clientKey] = await Promise.all([
    read(paths.caCert),
    read(paths.caKey),
    read(paths.serverCert),
    read(paths.serverKey),
    read(paths.clientCert),
    read(paths.clientKey),
  ]);
  const cleanup = async () => {
    if (created) await Deno.remove(out, { recursive: true }).catch(() => {});
  };
  return {
    dir: out,
    caCert,
    caKey,
    serverCert,
    serverKey,
    clientCert,
    clientKey,
    clientCN,
    paths,
    cleanup,
    [Symbol.asyncDispose]: cleanup,
  };
}

async function _genKey(path: string, keyType: "ec" | "rsa"): Promise<void> {
  const args = keyType === "ec"
    ? ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    : ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
  await _openssl([...args, "-out", path]);
  await Deno.chmod(path, 0o600);
}

/** A CSR then a CA-signed certificate with the given v3 extensions. */
async function _leaf(
  paths: TlsFixturePaths,
  name: "server" | "client",
  cn: string,
  days: string,
  extensions: string[],
): Promise<void> {
  const dir = paths.caCert.slice(0, paths.caCert.length - "ca.crt".length);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await _openssl(["req", "-new", "-key", paths[`${name}Key`], "-subj", `/CN=${cn}`, "-out", csr]);
  await Deno.writeTextFile(ext, extensions.join("\n") + "\n");
  await _openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    paths.caCert,
    "-CAkey",
    paths.caKey,
    "-set_serial",
    String(Date.now() * 1000 + Math.floor(Math.random() * 1000)),
    "-days",
    days,
    "-sha256",
    "-extfile",
    ext,
    "-out",
    paths[`${name}Cert`],
  ]);
  await Promise.all([Deno.remove(csr), Deno.remove(ext)]);
}

async function _openssl(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `openssl ${args[0]} failed (exit ${code}): ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
}
