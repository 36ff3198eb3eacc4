/**
 * CloudWatch Logs front door: the "cloud.logs" service, its sources (agent
 * log sink, app API, files, journal), the sender and the batch rules. See
 * docs/cloud-logs.md.
 */

export { cloudLogsEnabled, CloudLogsService, cloudLogsService } from "./service.ts";
export { LogSender, type LogSenderOptions } from "./sender.ts";
export { AgentLogSink, AppLogs, type Destination } from "./sources.ts";
export { FileSource, type FileSourceOptions, globRegExp } from "./files.ts";
export { journalMessage, JournalSource, type JournalSourceOptions } from "./journal.ts";
export { lineTime } from "./_timestamp.ts";
export {
  type Batch,
  cutBatch,
  decodeEvent,
  decodeRecord,
  encodeEvent,
  EVENT_OVERHEAD,
  eventKey,
  eventRecord,
  type LogEvent,
  MAX_AGE_MS,
  MAX_AHEAD_MS,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_SPAN_MS,
  rejectedCount,
  splitMessage,
} from "./events.ts";
