/**
 * Least privilege: the MQTT client works in a process run with exactly the
 * flags `tern permissions` derives from the config (net host:port of the
 * broker, read of the cert files, the TERN_* env variables), no more.
 * `npm:mqtt`'s dependencies read and enumerate the environment on import;
 * `safeProcessEnv()` (lib/env.ts) makes that safe under a scoped --allow-env.
 */

import { equal } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { skipWithout } from "./helpers/peers.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";

const CHILD = fileURLToPath(new URL("./mqtt_permissions_child.ts", import.meta.url));

async function runScoped(mqtt: Record<string, unknown>): Promise<{ flags: string[]; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-perm-" });
  try {
    await Deno.mkdir(join(dir, "conf"));
    const config = {
      agent: { state: join(dir, "state") },
      web: { enabled: false },
      mqtt,
      device: { id: "perm-dev" },
    };
    await Deno.writeTextFile(join(dir, "conf", "tern.json5"), JSON.stringify(config));
    await Deno.mkdir(join(dir, "state"));
    const loaded = loadConfig({ dir: join(dir, "conf"), required: true, env: () => undefined });
    const flags = permissionFlags(derivePermissions(loaded.config, loaded));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, CHILD, join(dir, "conf")],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { flags, out: text.trim() };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("the client publishes under exactly the derived permissions (plain MQTT)", async () => {
  await using broker = await startAedes();
  const { flags, out } = await runScoped({ enabled: true, url: broker.url });
  equal(out, "acked", `flags: ${flags.join(" ")}\n${out}`);
  equal(
    flags.some((f) => f === "--allow-env" || f === "--allow-net" || f === "--allow-read"),
    false,
  );
});

Deno.test({
  name:
    "the client publishes under exactly the derived permissions (mosquitto, TLS client certificate)",
  ignore: skipWithout("mosquitto", import.meta.url),
  async fn() {
    await using tls = await makeTlsFixtures();
    await using broker = await startMosquitto({ tls: tls.paths });
    const { flags, out } = await runScoped({
      enabled: true,
      url: broker.url,
      cert: tls.paths.clientCert,
      key: tls.paths.clientKey,
      ca: tls.paths.caCert,
    });
    equal(out, "acked", `flags: ${flags.join(" ")}\n${out}`);
  },
});
