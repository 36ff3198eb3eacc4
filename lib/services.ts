/**
 * Every service the agent can run, in no particular order: the agent sorts
 * them by `deps`. Later subsystems add their factory here.
 */

import type { ServiceFactory } from "./service.ts";

export const SERVICES: ServiceFactory[] = [];
