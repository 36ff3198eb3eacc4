/**
 * The device's API routes. `registerApi(deps)` binds all of them; a device
 * maker adds their own next to these with `web.route(...)`.
 */

import type { WebDeps } from "../deps.ts";
import { registerAudit } from "./audit.ts";
import { registerAuth } from "./auth.ts";
import { registerConfig } from "./config.ts";
import { registerData } from "./data.ts";
import { registerEvents } from "./events.ts";
import { registerHealth } from "./health.ts";
import { registerLogs } from "./logs.ts";
import { registerMetrics } from "./metrics.ts";
import { registerProvision } from "./provision.ts";
import { registerShadow } from "./shadow.ts";
import { registerStatus } from "./status.ts";
import { registerTokens } from "./tokens.ts";
import { registerUploads } from "./uploads.ts";
import { registerUsers } from "./users.ts";

export function registerApi(d: WebDeps): void {
  registerAuth(d);
  registerUsers(d);
  registerData(d);
  registerStatus(d);
  registerHealth(d);
  registerLogs(d);
  registerMetrics(d);
  registerShadow(d);
  registerAudit(d);
  registerUploads(d);
  registerTokens(d);
  registerEvents(d);
  registerConfig(d);
  registerProvision(d);
}
