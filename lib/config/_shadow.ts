/**
 * The `cloud.shadow` section: AWS IoT Device Shadows over the MQTT
 * connection (see docs/shadows.md).
 *
 * ```json5
 * cloud: { shadow: {
 *   enabled: true,
 *   shadows: {
 *     thermostat: { model: { name: "Thermostat", key: { id: "main" } } },  // named shadow "thermostat"
 *     device: { classic: true, direction: "deviceToCloud", sync: { mode: "periodic", interval: 60000 } },
 *   },
 * } }
 * ```
 *
 * Keys of `shadows` are local names (the API, REST `/api/shadow/:name`,
 * status); the AWS shadow name is `name`, else the key; `classic: true` is
 * the thing's unnamed classic shadow. Units: ms.
 */

import * as z from "../validate/mod.ts";
import { ms } from "./_types.ts";

const awsName = (max: number) =>
  z.string().min(1).max(max).regex(/^[a-zA-Z0-9:_-]+$/, 'letters, digits, ":", "_" and "-"');

const sync = z.union([
  z.strictObject({
    mode: z.literal("change"),
    /** Wait this long after the first change so changes made together go in one update. */
    debounce: ms().max(3_600_000).default(200),
  }),
  z.strictObject({
    mode: z.literal("periodic"),
    /** Send what is pending this often. */
    interval: ms().min(100).max(86_400_000).default(60_000),
  }),
]);

const shadowEntry = z.strictObject({
  /** The AWS shadow name. @default the key */
  name: awsName(64).optional(),
  /** The thing's classic (unnamed) shadow. */
  classic: z.boolean().default(false),
  /** deviceToCloud: only reported is sent; cloudToDevice: only desired is received; both. */
  direction: z.enum(["deviceToCloud", "cloudToDevice", "both"]).default("both"),
  sync: sync.default({ mode: "change", debounce: 200 }),
  /** Recreate the shadow from the local reported state when it is deleted in the cloud. */
  recreate: z.boolean().default(false),
  /**
   * Bind one item of a database model: its fields are `reported`; desired
   * changes are written to the item with origin `cloud`. `fields` limits
   * which (default: every field of the model but its key fields).
   */
  model: z.strictObject({
    name: z.string().min(1),
    key: z.record(z.string().min(1), z.union([z.string(), z.number()])),
    fields: z.array(z.string().min(1)).optional(),
  }).optional(),
});

export const shadowSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** Thing name. @default device.thing, else the device id */
  thing: awsName(128).optional(),
  shadows: z.record(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a name of letters, digits, _ and -"),
    shadowEntry,
  )
    .default({}),
  /** Time to wait for the service's reply. */
  requestTimeout: ms().min(100).default(10_000),
  /** Retry delays: full jitter between 0 and min·2^attempt, capped at max. */
  backoff: z.strictObject({
    min: ms().default(1000),
    max: ms().default(60_000),
  }).prefault({}),
}).prefault({});

export type ShadowConfig = z.infer<typeof shadowSection>;
export type ShadowEntry = ShadowConfig["shadows"][string];
