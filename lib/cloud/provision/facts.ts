/**
 * Device facts for template parameters: `${deviceId}`, `${thing}`,
 * `${serial}` (the first line of `facts.serialFile`, NULs stripped: the form
 * of `/proc/device-tree/serial-number`) and `${mac}` (the address of
 * `facts.interface` from `/sys/class/net/IF/address`). A fact a parameter
 * uses but the device cannot read is a clear error naming the file.
 */

import type { ProvisionConfig } from "../../config/mod.ts";

/** The template parameters of `config`, with the facts filled in. */
export function templateParameters(
  config: ProvisionConfig,
  ids: { deviceId: string; thing: string },
): Record<string, string> {
  const cache = new Map<string, string>();
  const fact = (name: string): string => {
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    let value: string;
    if (name === "deviceId") value = ids.deviceId;
    else if (name === "thing") value = ids.thing;
    else if (name === "serial") value = _readFact(config.facts.serialFile, "serial number");
    else if (name === "mac") {
      value = _readFact(`/sys/class/net/${config.facts.interface}/address`, "MAC address");
    } else throw new TypeError(`Unknown fact "\${${name}}" in provision.parameters`);
    cache.set(name, value);
    return value;
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.parameters)) {
    out[k] = v.replace(/\$\{([A-Za-z]+)\}/g, (_, name: string) => fact(name));
  }
  return out;
}

function _readFact(path: string, what: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`Cannot read the ${what} from "${path}": ${(e as Error).message}`);
  }
  const value = text.replaceAll("\0", "").split("\n")[0]!.trim();
  if (!value) throw new Error(`The ${what} file "${path}" is empty`);
  return value;
}
