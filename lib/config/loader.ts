/**
 * Loads a config directory: parse the JSON5 files, deep-merge the overlays,
 * apply env overrides, validate with the config schema, and turn every issue into a
 * `ConfigProblem` that names its file. All problems are collected before
 * throwing one `ConfigError`.
 *
 * Order (later wins): defaults < tern.json5 < device.json5 < schema.json5 <
 * profiles/PROFILE.json5 < local.json5 < env overrides < flags.
 * Objects merge key by key; arrays and scalars replace.
 */

import { join, resolve } from "../path.ts";
import type * as z from "../validate/mod.ts";
import { keysAt } from "../validate/mod.ts";
import { Json5Error, parseJson5 } from "./json5.ts";
import { isSecretKey } from "../log/mod.ts";
import { ConfigError, type ConfigProblem } from "./errors.ts";
import { type Config, configSchema, MAIN_FILE, SECTION_FILE } from "./schema.ts";
import { suggest } from "./_suggest.ts";

/** Env variables that override single keys. Documented in docs/configuration.md. */
export const ENV_OVERRIDES: Record<string, { path: string; list?: boolean }> = {
  TERN_LOG_LEVEL: { path: "log.level" },
  TERN_DEVICE_ID: { path: "device.id" },
  TERN_WEB_LISTEN: { path: "web.listen", list: true },
  TERN_MQTT_URL: { path: "mqtt.url" },
  TERN_AWS_REGION: { path: "aws.region" },
};

/** Env variables read by the CLI itself. */
export const ENV_CLI = ["TERN_CONFIG", "TERN_STATE", "TERN_PROFILE"] as const;

/** Options of {@linkcode loadConfig}. */
export interface LoadOptions {
  /** Config directory. A missing directory means the embedded default unless `required`. */
  dir?: string;
  /** The directory was named explicitly (flag or env): it must exist. @default false */
  required?: boolean;
  /** Profile overlay name. */
  profile?: string;
  /** Environment to read overrides from. @default a safe reader of Deno.env */
  env?: (name: string) => string | undefined;
  /** Overrides from flags, as dotted path → value, applied last. */
  overrides?: Record<string, unknown>;
}

/** A loaded configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute config directory. */
  configDir: string;
  /** Absolute state directory. */
  stateDir: string;
  /** Files read, relative to configDir. */
  files: string[];
  /** Secret values found in the config (to register with the log redactor). */
  secrets: string[];
}

type Json = Record<string, unknown>;

/** Read an env var without throwing when the permission is missing. */
export function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Load and validate a config directory. Throws `ConfigError` with every problem found. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const configDir = resolve(options.dir ?? "config");
  const env = options.env ?? safeEnv;
  const problems: ConfigProblem[] = [];
  const tree: Json = {};
  const origin = new Map<string, string>();
  const files: string[] = [];

  let dirExists = false;
  try {
    dirExists = Deno.statSync(configDir).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      problems.push({
        file: configDir,
        path: "",
        message: `Cannot read config directory "${configDir}": ${(e as Error).message}`,
      });
    }
  }
  if (!dirExists && options.required) {
    problems.push({
      file: configDir,
      path: "",
      message: `Config directory "${configDir}" does not exist`,
    });
  }

  const readFile = (name: string, under: string | undefined, mustExist: boolean) => {
    const text = _read(join(configDir, name), name, problems, mustExist);
    if (text === undefined) return;
    files.push(name);
    let parsed: unknown;
    try {
      parsed = parseJson5(text);
    } catch (e) {
      if (!(e instanceof Json5Error)) throw e;
      const where = ` at line ${e.lineNumber}, column ${e.columnNumber}`;
      problems.push({
        file: name,
        path: "",
        message: `Syntax error in ${name}${where}: ${e.message}`,
      });
      return;
    }
    if (!_isObject(parsed)) {
      problems.push({
        file: name,
        path: "",
        message: `Invalid ${name}: expected an object at the top, found ${
          _describe(parsed, false)
        }`,
      });
      return;
    }
    _merge(tree, under ? { [under]: parsed } : parsed, name, "", origin);
  };

  if (dirExists) {
    readFile(MAIN_FILE, undefined, false);
    for (const [section, file] of Object.entries(SECTION_FILE)) readFile(file, section, false);
  }
  const profile = options.profile ?? env("TERN_PROFILE");
  if (profile !== undefined && profile !== "") {
    if (!/^[A-Za-z0-9_-]+$/.test(profile)) {
      problems.push({
        file: "profile",
        path: "",
        message: `Invalid profile name "${profile}": expected letters, digits, _ or -`,
      });
    } else {
      const name = `profiles/${profile}.json5`;
      if (!_exists(join(configDir, name))) {
        const available = _profiles(configDir);
        problems.push({
          file: name,
          path: "",
          message: `Profile "${profile}" not found: no file ${name} in "${configDir}"` +
            (available.length ? ` (available: ${available.join(", ")})` : " (no profiles defined)"),
        });
      } else readFile(name, undefined, true);
    }
  }
  if (dirExists) readFile("local.json5", undefined, false);

  for (const [name, { path, list }] of Object.entries(ENV_OVERRIDES)) {
    const value = env(name);
    if (value === undefined || value === "") continue;
    _setPath(tree, path, list ? value.split(",").map((s) => s.trim()).filter(Boolean) : value);
    origin.set(path, `env ${name}`);
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    _setPath(tree, path, value);
    origin.set(path, "flags");
  }

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(..._problems(issue, tree, origin));
  }
  if (problems.length) throw new ConfigError(problems);
  const config = result.data!;
  return {
    config,
    configDir,
    stateDir: resolve(config.agent.state),
    files,
    secrets: collectSecrets(config),
  };
}

/** Every secret value in a config: values under secret-looking keys and under `log.redact` paths. */
export function collectSecrets(config: Config): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === "string") {
      // A cookie *name* in config is not a secret (a cookie value in a log field is).
      if (isSecretKey(key) && key !== "cookie") out.push(v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (_isObject(v)) { for (const [k, x] of Object.entries(v)) walk(x, k); }
  };
  walk(config, "");
  for (const path of config.log.redact) {
    const v = _getPath(config as unknown as Json, path);
    if (typeof v === "string") out.push(v);
    else if (v !== undefined) walk(v, "secret");
  }
  return out.filter((s) => s.length >= 4);
}

function _read(path: string, name: string, problems: ConfigProblem[], mustExist: boolean) {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && !mustExist) return undefined;
    problems.push({
      file: name,
      path: "",
      message: `Cannot read ${name}: ${(e as Error).message}`,
    });
    return undefined;
  }
}

function _exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function _profiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(join(dir, "profiles"))]
      .filter((e) => e.isFile && e.name.endsWith(".json5"))
      .map((e) => e.name.slice(0, -6)).sort();
  } catch {
    return [];
  }
}

function _isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function _merge(into: Json, from: Json, file: string, prefix: string, origin: Map<string, string>) {
  for (const [k, v] of Object.entries(from)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (_isObject(v) && _isObject(into[k])) {
      _merge(into[k] as Json, v, file, path, origin);
    } else {
      into[k] = _isObject(v) ? _merge({}, v, file, path, origin) : v;
      origin.set(path, file);
    }
  }
  origin.set(prefix, origin.get(prefix) ?? file);
  return into;
}

function _setPath(tree: Json, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    if (!_isObject(node[k])) node[k] = {};
    node = node[k] as Json;
  }
  node[keys.at(-1)!] = value;
}

function _getPath(tree: unknown, path: string | readonly PropertyKey[]): unknown {
  const keys = typeof path === "string" ? path.split(".") : path;
  let node = tree;
  for (const k of keys) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[k as string];
  }
  return node;
}

/** "web.listen[0]" */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out;
}

function _fileOf(path: readonly PropertyKey[], origin: Map<string, string>): string {
  for (let n = path.length; n >= 0; n--) {
    const key = formatPath(path.slice(0, n).filter((k) => typeof k !== "number"));
    const f = origin.get(key);
    if (f) return f;
  }
  const top = String(path[0] ?? "");
  return SECTION_FILE[top] ?? MAIN_FILE;
}

function _inFile(file: string): string {
  return file.startsWith("env ") ? `(from ${file})` : `in ${file}`;
}

function _problems(
  issue: z.Issue,
  tree: Json,
  origin: Map<string, string>,
): ConfigProblem[] {
  const path = issue.path;
  const file = _fileOf(path, origin);
  const where = formatPath(path);
  if (issue.code === "unrecognized_keys") {
    const known = keysAt(configSchema, path);
    return (issue.keys ?? []).map((k) => {
      const full = where ? `${where}.${k}` : k;
      const hit = suggest(k, known);
      const kFile = origin.get(formatPath([...path.filter((p) => typeof p !== "number"), k])) ??
        file;
      const hint = hit
        ? ` (did you mean "${where ? `${where}.${hit}` : hit}"?)`
        : known.length
        ? ` (known keys: ${known.join(", ")})`
        : "";
      return { file: kFile, path: full, message: `Unknown key "${full}" ${_inFile(kFile)}${hint}` };
    });
  }
  if (issue.code === "invalid_key") {
    const key = String(path.at(-1));
    const inner = issue.issues?.[0];
    return [{
      file,
      path: where,
      message: `Invalid key "${key}" at "${formatPath(path.slice(0, -1))}" ${_inFile(file)}: ` +
        `expected ${inner ? _expected(inner) : "a valid key"}`,
    }];
  }
  const value = _getPath(tree, path);
  const secret = path.some((k) => typeof k === "string" && isSecretKey(k));
  if (issue.code === "invalid_type" && value === undefined) {
    return [{
      file,
      path: where,
      message: `Missing required key "${where}" ${_inFile(file)}: expected ${
        _article(issue.expected ?? "value")
      }`,
    }];
  }
  const expected = _expected(issue);
  return [{
    file,
    path: where,
    message: `Invalid value for "${where || "(top)"}" ${
      _inFile(file)
    }: expected ${expected}, found ${_describe(value, secret)}`,
  }];
}

function _article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function _expected(issue: z.Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return _article(issue.expected ?? "value");
    case "invalid_value": {
      const values = issue.values ?? [];
      return values.length === 1
        ? JSON.stringify(values[0])
        : `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
    }
    case "too_small": {
      const op = issue.inclusive === false ? ">" : "≥";
      if (issue.origin === "string") return `at least ${issue.minimum} character(s)`;
      if (issue.origin === "array") return `at least ${issue.minimum} item(s)`;
      return `a number ${op} ${issue.minimum}`;
    }
    case "too_big": {
      const op = issue.inclusive === false ? "<" : "≤";
      if (issue.origin === "string") return `at most ${issue.maximum} character(s)`;
      if (issue.origin === "array") return `at most ${issue.maximum} item(s)`;
      return `a number ${op} ${issue.maximum}`;
    }
    default:
      return issue.message && !/^Invalid/.test(issue.message)
        ? issue.message
        : `a valid value (${issue.message})`;
  }
}

function _describe(v: unknown, secret: boolean): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "object") return "an object";
  if (secret) return `a ${typeof v} (value hidden: secret)`;
  if (typeof v === "string") {
    return `string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v)}`;
  }
  return `${typeof v} ${String(v)}`;
}
