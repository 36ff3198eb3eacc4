/**
 * Logging front door: levels and per-source filtering, console/file/ring
 * sinks, secret redaction. See `logger.ts` for the model.
 */

export { type Logger, LogHub, type LogHubOptions, nullLogger } from "./logger.ts";
export { type Level, LEVELS, type LogRecord, toJsonLine, toText } from "./record.ts";
export { isSecretKey, REDACTED, Redactor } from "./redact.ts";
export {
  ConsoleSink,
  type ConsoleSinkOptions,
  RingSink,
  type RotatingFileOptions,
  RotatingFileSink,
  type Sink,
} from "./sinks.ts";
