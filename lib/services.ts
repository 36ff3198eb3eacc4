/**
 * The library's services, in no particular order: the agent sorts them by
 * `deps`. Later subsystems add their factory here. The app's list, which adds
 * the web service with the device's routes, is `SERVICES` in `services.ts` at
 * the repository root (what `tern run` and the compiled binary start).
 *
 * Cloud services are loaded lazily (`lazy()`): their modules, and the npm
 * packages behind them (mqtt, AWS SDK), are imported only when the config
 * enables them. A local-mode agent never loads them, which keeps its memory
 * small and its permission set free of what those packages read at import.
 */

import type { Config } from "./config/mod.ts";
import type { ServiceFactory } from "./service.ts";
import { databaseService } from "./db/mod.ts";
// Not lazy: the trail records in local mode too (its shipping part is loaded only when on).
import { auditService } from "./cloud/audit/service.ts";
import { later } from "./later.ts";
import { safeProcessEnv } from "./env.ts";

/** A lazy factory: `load` gives the module's own factory (lib/services_test.ts checks they agree). */
export interface LazyServiceFactory extends ServiceFactory {
  load(): Promise<ServiceFactory>;
}

/**
 * A factory whose implementation module is imported on first `create()`, after
 * the `process.env` shim its npm packages need (`safeProcessEnv()`: it loads
 * Node's `process`, which a local-mode agent does without). Its name, deps and
 * `enabled` repeat the module's factory, because the agent needs them before
 * the module is loaded (to order the services and to skip the ones that are off).
 */
export function lazy(
  name: string,
  deps: readonly string[],
  enabled: (config: Config) => boolean,
  load: () => Promise<ServiceFactory>,
  options: { background?: boolean } = {},
): LazyServiceFactory {
  return {
    name,
    deps,
    ...options,
    enabled,
    load,
    create: async (ctx) => {
      await safeProcessEnv();
      return (await load()).create(ctx);
    },
  };
}

export const LIBRARY_SERVICES: ServiceFactory[] = [
  databaseService,
  auditService,
  lazy(
    "aws",
    ["provision"], // its identity, when provisioning is on (an off dependency is skipped)
    (c) => !!(c.aws.credentials || c.aws.useEnv || c.aws.iot),
    async () => (await later<typeof import("./aws/mod.ts")>("lib/aws/mod.ts")).awsService,
  ),
  // Provisioning by claim and certificate rotation; "identity" runs once the device has one.
  lazy(
    "provision",
    ["database"],
    (c) => c.provision.enabled,
    async () =>
      (await later<typeof import("./cloud/provision/mod.ts")>("lib/cloud/provision/mod.ts"))
        .provisionService,
  ),
  lazy(
    "identity",
    ["provision"],
    (c) => c.provision.enabled,
    async () =>
      (await later<typeof import("./cloud/provision/mod.ts")>("lib/cloud/provision/mod.ts"))
        .identityService,
    { background: true },
  ),
  lazy(
    "mqtt",
    ["database", "identity"],
    (c) => c.mqtt.enabled,
    async () => (await later<typeof import("./mqtt/mod.ts")>("lib/mqtt/mod.ts")).mqttService,
  ),
  lazy(
    "sync",
    ["database", "mqtt"],
    (c) => c.sync.enabled,
    async () => (await later<typeof import("../sync/mod.ts")>("sync/mod.ts")).syncService,
  ),
  lazy(
    "cloud.logs",
    ["database", "aws", "provision"],
    (c) => c.cloud.logs.enabled,
    async () =>
      (await later<typeof import("./cloud/logs/mod.ts")>("lib/cloud/logs/mod.ts")).cloudLogsService,
  ),
  lazy(
    "cloud.metrics",
    ["database", "aws", "provision"],
    (c) => c.cloud.metrics.enabled,
    async () =>
      (await later<typeof import("./cloud/metrics/mod.ts")>("lib/cloud/metrics/mod.ts"))
        .cloudMetricsService,
  ),
  lazy(
    "cloud.shadow",
    ["database", "mqtt"],
    (c) => c.cloud.shadow.enabled,
    async () =>
      (await later<typeof import("./cloud/shadow/mod.ts")>("lib/cloud/shadow/mod.ts"))
        .shadowService,
  ),
  lazy(
    "cloud.s3",
    ["database", "aws", "mqtt", "provision"],
    (c) => c.cloud.s3.enabled,
    async () => (await later<typeof import("./cloud/s3/mod.ts")>("lib/cloud/s3/mod.ts")).s3Service,
  ),
  lazy(
    "update",
    ["database", "mqtt"],
    (c) => c.update.enabled,
    async () =>
      (await later<typeof import("./cloud/update/mod.ts")>("lib/cloud/update/mod.ts"))
        .updateService,
  ),
];
