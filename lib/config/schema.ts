/**
 * The whole configuration, composed from one schema per section (lib/validate). Defaults
 * live here and in the section files only (`configSchema.parse({})` is the
 * embedded default: local mode, web on http://127.0.0.1:8080, database on,
 * every cloud feature off).
 *
 * Files of a config directory and the sections they hold:
 * - `tern.json5`: agent, log, web, database, mqtt, aws (and later sections)
 * - `device.json5`: device
 * - `schema.json5`: schema (database models)
 * - `profiles/NAME.json5` and `local.json5`: overlays of any of the above
 *   (`{ web: {...}, device: {...} }`), deep-merged in that order.
 */

import * as z from "../validate/mod.ts";
import { agentSection, deviceSection, logSection } from "./_agent.ts";
import { awsSection } from "./_aws.ts";
import { httpSection } from "./_http.ts";
import { databaseSection, schemaSection } from "./_database.ts";
import { mqttSection } from "./_mqtt.ts";
import { webSection } from "./_web.ts";
import { syncSection } from "./_sync.ts";
import { cloudSection } from "./_cloud.ts";
import { auditSection } from "./_audit.ts";
import { provisionSection } from "./_provision.ts";
import { updateSection } from "./_update.ts";

export const configSchema = z.strictObject({
  agent: agentSection,
  log: logSection,
  device: deviceSection,
  web: webSection,
  database: databaseSection,
  schema: schemaSection,
  mqtt: mqttSection,
  aws: awsSection,
  http: httpSection,
  sync: syncSection,
  cloud: cloudSection,
  audit: auditSection,
  provision: provisionSection,
  update: updateSection,
});

/** A validated configuration with every default filled in. */
export type Config = z.infer<typeof configSchema>;

/** The embedded default configuration. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

/** Which file holds each top-level section. */
export const SECTION_FILE: Record<string, string> = {
  device: "device.json5",
  schema: "schema.json5",
};
export const MAIN_FILE = "tern.json5";
