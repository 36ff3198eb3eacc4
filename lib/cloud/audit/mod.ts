/**
 * Audit trail front door: the "audit" service and its `record()`, the trail
 * (chain + spool in one transaction) and the CloudTrail Lake mapping. The
 * chain itself is lib/db/audit.ts. See docs/audit.md.
 */

export { AuditService, auditService } from "./service.ts";
export {
  type AuditDestination,
  type AuditRecord,
  AuditTrail,
  type AuditTrailOptions,
} from "./trail.ts";
export {
  type CloudTrailEntry,
  CloudTrailSender,
  type CloudTrailSenderOptions,
  entryOf,
  EVENT_ID,
  eventData,
  MAX_BYTES,
  MAX_EVENTS,
} from "./cloudtrail.ts";
