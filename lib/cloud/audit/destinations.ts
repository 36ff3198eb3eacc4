/**
 * The audit trail's destinations, the spool streams `config.audit` turns on
 * (used by the agent's shipping and by the CLI, never loaded in local mode):
 * `audit.cloudtrail` holds the event's JSON (its `data`); `audit.logs` holds
 * `GROUP\nSTREAM\nJSON` (the CloudWatch Logs sender's format).
 */

import type { Config } from "../../config/mod.ts";
import { thingName } from "../../service.ts";
import type { Spool, SpoolStream } from "../spool.ts";
import { encodeEvent } from "../logs/events.ts";
import type { AuditDestination } from "./trail.ts";

/** The destination of the CloudWatch Logs sender: `GROUP\nSTREAM\nJSON`. */
export function logsDestination(
  stream: SpoolStream,
  group: string,
  logStream: string,
): AuditDestination {
  return { stream, encode: (data) => encodeEvent(group, logStream, data) };
}

/**
 * The destinations `config.audit` turns on, on `spool`: `audit.cloudtrail`
 * (the event's JSON) and `audit.logs` (for the group and stream, `{thing}`
 * and `{device}` filled in). The agent's senders and the CLI (which records
 * `tern user`/`tern token` changes for the agent to ship) use the same.
 */
export function auditDestinations(
  config: Config,
  spool: Spool,
  deviceId: string,
  thing = thingName(config, deviceId),
): AuditDestination[] {
  const a = config.audit;
  const limits = { maxRecords: a.spool.maxRecords, maxBytes: a.spool.maxBytes };
  const fill = (t: string) => t.replaceAll("{thing}", thing).replaceAll("{device}", deviceId);
  const out: AuditDestination[] = [];
  if (a.cloudtrail.enabled) {
    out.push({ stream: spool.stream("audit.cloudtrail", limits), encode: (data) => data });
  }
  if (a.logs.enabled) {
    out.push(
      logsDestination(spool.stream("audit.logs", limits), fill(a.logs.group), fill(a.logs.stream)),
    );
  }
  return out;
}
