/**
 * The services the Tern agent runs: the library's (lib/services.ts: database,
 * AWS, MQTT, sync and the cloud streams) and the app's web service with the
 * device's routes (routes/web_service.ts). `tern run`, the compiled binary and
 * a device maker's own entry point start this list:
 *
 * ```ts
 * await runAgent(loadFromFlags(flags), flags, io, { factories: SERVICES, onStarted(agent) {…} });
 * ```
 */

import { LIBRARY_SERVICES } from "./lib/services.ts";
import type { ServiceFactory } from "./lib/service.ts";
import { webService } from "./routes/web_service.ts";

export const SERVICES: ServiceFactory[] = [...LIBRARY_SERVICES, webService];
