/**
 * The audit trail's one entry point: `record({actor, source, action, target,
 * outcome, details})`. It checks the event, redacts its details like the log
 * does (secret-looking keys and every registered secret value), appends it to
 * the hash chain (lib/db/audit.ts) and, in the same SQLite transaction, to
 * the spool stream of each destination that is on (`audit.cloudtrail`,
 * `audit.logs`), so an event is shipped if and only if it was recorded.
 * Called inside the caller's `db.transaction()`, the event commits or rolls
 * back with the change it describes.
 *
 * ```ts
 * audit.record({ actor: { type: "user", id: "alice" }, source: "10.0.0.7",
 *   action: "user.update", target: "user:bob", outcome: "success", details: { fields: ["role"] } });
 * ```
 *
 * The destinations and their spool records are in `destinations.ts`, loaded
 * only when one is on: a local-mode agent loads no spool.
 */

import type { Clock } from "../../clock.ts";
import {
  type AuditActor,
  type AuditEvent,
  AuditLog,
  type Database,
  ulidFactory,
} from "../../db/mod.ts";
import type { Redactor } from "../../log/mod.ts";
import type { SpoolStream } from "../spool.ts";

/** What `record` takes. */
export interface AuditRecord {
  actor: AuditActor;
  /** Client IP address, "cli", "agent", "cloud"… @default "agent" */
  source?: string;
  /** Dotted lower-case name: "auth.login", "app.door.open". */
  action: string;
  target?: string;
  /** @default "success" */
  outcome?: AuditEvent["outcome"];
  details?: Record<string, unknown>;
}

/** A destination's spool stream and how its records are encoded. */
export interface AuditDestination {
  stream: SpoolStream;
  /** The spool data of one event (its JSON `data`). */
  encode(data: string, event: AuditEvent): string;
}

/** Options of {@linkcode AuditTrail}. */
export interface AuditTrailOptions {
  db: Database;
  clock: Clock;
  redactor?: Redactor;
  device: string;
  /** Where events are shipped (spool streams); none: kept on the device only. */
  destinations?: AuditDestination[];
  /** Largest details, JSON bytes after redaction. @default 8192 */
  maxDetailsBytes?: number;
}

const ACTION = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+){1,5}$/;
const ACTORS = new Set(["user", "token", "cloud", "agent", "cli", "device"]);
const OUTCOMES = new Set(["success", "failure", "denied"]);

export class AuditTrail {
  readonly log: AuditLog;
  readonly #o: AuditTrailOptions;
  readonly #ulid: () => string;
  #destinations: AuditDestination[];

  constructor(options: AuditTrailOptions) {
    this.#o = options;
    this.log = new AuditLog(options.db);
    this.#ulid = ulidFactory(() => options.clock.now());
    this.#destinations = options.destinations ?? [];
  }

  /** Change where new events are shipped (the service, once its senders exist). */
  setDestinations(destinations: AuditDestination[]): void {
    this.#destinations = destinations;
  }

  /**
   * Record one event: durable (chain and spool) when this returns. Throws
   * TypeError for a bad event; nothing is stored then.
   */
  record(input: AuditRecord): AuditEvent {
    const o = this.#o;
    const e = _check(input);
    let details = e.details;
    if (details !== undefined) {
      details = (o.redactor ? o.redactor.value(details) : details) as Record<string, unknown>;
      const text = JSON.stringify(details);
      const max = o.maxDetailsBytes ?? 8192;
      if (new TextEncoder().encode(text).length > max) {
        details = { truncated: true, text: text.slice(0, Math.floor(max / 4)) };
      }
    }
    const target = e.target === undefined ? undefined : o.redactor?.text(e.target) ?? e.target;
    const now = o.clock.now();
    return o.db.transaction(() => {
      const row = this.log.append({
        id: this.#ulid(),
        time: new Date(now).toISOString(),
        actor: { type: e.actor.type, id: o.redactor?.text(e.actor.id) ?? e.actor.id },
        source: e.source ?? "agent",
        action: e.action,
        ...(target !== undefined ? { target } : {}),
        outcome: e.outcome ?? "success",
        ...(details !== undefined ? { details } : {}),
        device: o.device,
      });
      for (const d of this.#destinations) {
        d.stream.append([{ time: now, data: d.encode(row.data, row.event) }]);
      }
      return row.event;
    });
  }
}

function _check(e: AuditRecord): AuditRecord {
  if (typeof e !== "object" || e === null) throw new TypeError("An audit event must be an object");
  if (typeof e.action !== "string" || !ACTION.test(e.action) || e.action.length > 100) {
    throw new TypeError(
      `Audit action "${
        String(e.action)
      }" is not valid (dotted lower-case words like "app.door.open")`,
    );
  }
  const a = e.actor;
  if (typeof a !== "object" || a === null || !ACTORS.has(a.type)) {
    throw new TypeError(`Audit actor type must be one of ${[...ACTORS].join(", ")}`);
  }
  if (typeof a.id !== "string" || a.id.length < 1 || a.id.length > 200) {
    throw new TypeError("Audit actor id must be a string of 1 to 200 characters");
  }
  if (e.source !== undefined && (typeof e.source !== "string" || e.source.length > 200)) {
    throw new TypeError("Audit source must be a string of at most 200 characters");
  }
  if (e.target !== undefined && (typeof e.target !== "string" || e.target.length > 500)) {
    throw new TypeError("Audit target must be a string of at most 500 characters");
  }
  if (e.outcome !== undefined && !OUTCOMES.has(e.outcome)) {
    throw new TypeError(`Audit outcome "${e.outcome}" is not one of success, failure, denied`);
  }
  if (
    e.details !== undefined &&
    (typeof e.details !== "object" || e.details === null || Array.isArray(e.details))
  ) throw new TypeError("Audit details must be an object");
  return e;
}
