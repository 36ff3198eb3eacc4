/**
 * Every service the agent can run, in no particular order: the agent sorts
 * them by `deps`. Later subsystems add their factory here.
 */

import type { ServiceFactory } from "./service.ts";
import { mqttService } from "./mqtt/mod.ts";
import { databaseService } from "./db/mod.ts";

export const SERVICES: ServiceFactory[] = [
  databaseService,
  mqttService,
];
