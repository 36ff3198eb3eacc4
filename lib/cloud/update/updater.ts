/**
 * The update flow of one device (docs/update.md): take the next `tern.update`
 * job from IoT Jobs, check it, download it, verify it, install it A/B,
 * restart into it, and after the restart either confirm it (SUCCEEDED) or
 * roll it back (FAILED). Each step is a phase in SQLite (lib/db/update_store.ts)
 * written before the step counts as done, so a restart at any moment
 * continues where it stopped; each step is an audit event.
 *
 * Reports to Jobs are owed, not fire-and-forget: the status to send is
 * stored with the phase and retried (full-jitter backoff) until the service
 * accepts it; `VersionMismatch` re-reads the execution and retries,
 * `TerminalStateReached` / `InvalidStateTransition` / `ResourceNotFound`
 * mean the job was canceled or removed in the cloud: local work stops, the
 * download is deleted, nothing is installed.
 */

import { fullJitter } from "../../backoff.ts";
import type { Clock } from "../../clock.ts";
import type { UpdateConfig } from "../../config/mod.ts";
import type { HttpClient } from "../../http/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { inWindow, msUntilChange } from "../../mqtt/mod.ts";
import { EXIT_RESTART, requestExit } from "../../exit_request.ts";
import { dirname, join } from "../../path.ts";
import { type PendingReport, type UpdateRow, UpdateStore } from "../../db/update_store.ts";
import { checkDocument, parseDocument, type UpdateDocument, UpdateRefused } from "./document.ts";
import { download, DownloadError, freeBytes, sha256File } from "./download.ts";
import { Installer } from "./install.ts";
import { Bundle } from "./bundle.ts";
import { type JobExecution, JobsClient, JobsError, TERMINAL_STATUSES } from "./jobs.ts";

export interface UpdaterOptions {
  jobs: JobsClient;
  store: UpdateStore;
  installer: Installer;
  http: HttpClient;
  clock: Clock;
  log: Logger;
  config: UpdateConfig;
  stateDir: string;
  version: string;
  target: string;
  /** An audit event (no-op when the trail is off). */
  audit: (
    action: string,
    details: Record<string, unknown>,
    outcome?: "success" | "failure",
  ) => void;
  /** Whether the agent is healthy: every other service running, cloud connected. */
  healthy: () => string | undefined;
  /** Whether the device is idle (apply: "idle"). */
  idle: () => boolean;
  /**
   * Rotate the device certificate now and tell how it ended (`tern.rotateCertificate`
   * jobs; the provision service's `rotate()`). Absent when provisioning is off.
   */
  rotate?: () => Promise<{ outcome: string; error?: string; certificateId?: string }>;
  /** Test hook: called before each install step (kill -9 tests). */
  beforeStep?: (step: string) => Promise<void> | void;
}

/** The job document operation that asks for a certificate rotation (docs/update.md). */
export const ROTATE_OPERATION = "tern.rotateCertificate";

export class Updater implements AsyncDisposable {
  readonly #o: UpdaterOptions;
  readonly #stop = new AbortController();
  #wake = Promise.withResolvers<void>();
  #loop: Promise<void> | undefined;
  #jobAbort: AbortController | undefined;
  #checking = false;
  #lastError: string | undefined;
  #offNotify: (() => void) | undefined;
  #waitingFor: string | undefined;

  constructor(options: UpdaterOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#o.installer.ensureDir();
    await this.#o.jobs.start();
    this.#offNotify = this.#o.jobs.onNotifyNext((e) => this.#onNotify(e));
    this.#loop = this.#run();
  }

  /** Look for a job now (`tern update check`, tests). */
  kick(): void {
    this.#wake.resolve();
  }

  status(): Record<string, unknown> {
    const s = this.#o.store;
    const a = s.active() ?? s.recent(1)[0];
    const job = a
      ? {
        jobId: a.jobId,
        version: a.doc.version,
        phase: a.phase,
        bytes: a.bytes,
        size: a.doc.size,
        percent: typeof a.doc.size === "number" && a.doc.size > 0
          ? Math.floor((a.bytes / a.doc.size) * 100)
          : 0,
        ...(a.reason ? { reason: a.reason } : {}),
        ...(a.report ? { reportOwed: a.report.status } : {}),
      }
      : null;
    return {
      version: this.#o.version,
      target: this.#o.target,
      job,
      ...(this.#waitingFor ? { waitingFor: this.#waitingFor } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  // ---- the loop --------------------------------------------------------------

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let failures = 0;
    try {
      if (await this.#recover()) return; // restarting into the previous binary
    } catch (e) {
      this.#o.log.error("Update recovery failed", { error: e });
    }
    while (!signal.aborted) {
      try {
        const row = this.#o.store.active();
        // A trial must reach its health check (and a rollback) even when reports cannot go out.
        if (row?.phase !== "swapped") await this.#sendOwed(signal);
        if (row) await this.#advance(row, signal);
        else {
          const e = await this.#o.jobs.startNext(
            { stepTimeoutInMinutes: this.#o.config.stepTimeoutMinutes },
            signal,
          );
          if (e) await this.#take(e);
          else await this.#idle(signal);
        }
        failures = 0;
        this.#lastError = undefined;
      } catch (e) {
        if (signal.aborted) break;
        this.#lastError = e instanceof Error ? e.message : String(e);
        this.#o.log.warn("Update step failed; retrying", { error: this.#lastError });
        await this.#o.clock.sleep(fullJitter(failures++, this.#o.config.backoff), signal)
          .catch(() => {});
      }
    }
  }

  async #idle(signal: AbortSignal): Promise<void> {
    await Promise.race([
      this.#wake.promise,
      _aborted(signal),
    ]);
    this.#wake = Promise.withResolvers();
  }

  #onNotify(e: JobExecution | undefined): void {
    const active = this.#o.store.active();
    if (active && e?.jobId !== active.jobId) {
      // Our job is no longer the next one: canceled or removed? Ask.
      void this.#o.jobs.get(active.jobId, this.#stop.signal).then((x) => {
        if (!x || (TERMINAL_STATUSES as readonly string[]).includes(x.status)) {
          this.#cancel(active.jobId, `the job is ${x?.status ?? "gone"} in the cloud`);
        }
      }, (err) => {
        if (err instanceof JobsError && err.terminal) this.#cancel(active.jobId, err.message);
      });
    }
    this.kick();
  }

  #cancel(jobId: string, reason: string): void {
    const row = this.#o.store.get(jobId);
    if (!row || !["received", "downloading", "downloaded", "verified"].includes(row.phase)) return;
    this.#o.store.set(jobId, "canceled", this.#o.clock.now(), { reason, report: null });
    this.#jobAbort?.abort(new Error(`Canceled: ${reason}`));
    this.#o.log.info("Update canceled", { jobId, reason });
    this.#o.audit("update.canceled", { jobId, reason });
    void Deno.remove(this.#part(jobId)).catch(() => {});
    void this.#o.installer.discard();
  }

  /** A job from start-next: record it (IN_PROGRESS is already set by start-next). */
  async #take(e: JobExecution): Promise<void> {
    const doc = e.jobDocument ?? {};
    const now = this.#o.clock.now();
    if (!this.#o.store.add(e.jobId, doc, e.versionNumber, now)) {
      this.#o.store.execVersion(e.jobId, e.versionNumber);
      return;
    }
    this.#o.log.info("Update job received", { jobId: e.jobId, version: doc.version });
    this.#o.audit("update.received", { jobId: e.jobId, version: doc.version, target: doc.target });
    await Promise.resolve();
  }

  // ---- phases ----------------------------------------------------------------

  async #advance(row: UpdateRow, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    if (row.doc.operation === ROTATE_OPERATION) return await this.#rotateCertificate(row);
    let d: UpdateDocument;
    try {
      d = parseDocument(row.doc);
      if (row.phase === "received") {
        const current = d.name !== undefined ? await this.#bundle(d)?.current() : o.version;
        await checkDocument(d, { current, target: o.target, config: o.config });
      }
    } catch (e) {
      if (!(e instanceof UpdateRefused)) throw e;
      if (e.reason === "same-version") {
        // A fleet-wide job reaching a device that already runs it: nothing to do, done.
        o.store.set(row.jobId, "succeeded", o.clock.now(), {
          reason: e.message,
          report: { status: "SUCCEEDED", details: { version: o.version, step: "already-running" } },
        });
        o.audit("update.succeeded", { jobId: row.jobId, version: o.version, already: true });
        return;
      }
      return this.#fail(row.jobId, e.reason, e.message);
    }
    const jobAbort = new AbortController();
    this.#jobAbort = jobAbort;
    const js = AbortSignal.any([signal, jobAbort.signal]);
    try {
      switch (row.phase) {
        case "received":
          this.#to(row.jobId, "downloading", { step: "downloading", version: d.version });
          o.audit("update.download", { jobId: row.jobId, version: d.version, size: d.size });
          return;
        case "downloading":
          await this.#download(row, d, js);
          this.#to(row.jobId, "downloaded", { step: "verifying", version: d.version });
          return;
        case "downloaded": {
          const part = this.#part(row.jobId);
          const size = (await Deno.stat(part)).size;
          if (size !== d.size) {
            return this.#fail(
              row.jobId,
              "size-mismatch",
              `Downloaded ${size} bytes, the job says ${d.size}`,
            );
          }
          const hash = await sha256File(part);
          if (hash !== d.sha256) {
            return this.#fail(
              row.jobId,
              "hash-mismatch",
              `SHA-256 of the download is ${hash}, the job says ${d.sha256}`,
            );
          }
          this.#to(row.jobId, "verified", { step: "verified", version: d.version });
          o.audit("update.verified", { jobId: row.jobId, version: d.version, sha256: hash });
          return;
        }
        case "verified": {
          if (!await this.#mayApply(js)) return;
          if (d.name !== undefined) return await this.#installBundle(row, d);
          const free = freeBytes(dirname(o.installer.bin));
          if (free < d.size + o.config.reserve) {
            return this.#fail(
              row.jobId,
              "no-disk",
              `Not enough free disk beside the binary: ${
                d.size + o.config.reserve
              } bytes needed, ${free} free`,
            );
          }
          await this.#step("stage", () => o.installer.stage(this.#part(row.jobId)));
          this.#to(row.jobId, "staged");
          return;
        }
        case "staged":
        case "kept":
        case "swapped":
          if (d.name !== undefined) return await this.#installBundle(row, d);
      }
      switch (row.phase) {
        case "staged":
          await this.#step("keep", () => o.installer.keep());
          this.#to(row.jobId, "kept");
          return;
        case "kept":
          await this.#step("mark", () => o.installer.mark(row.jobId, d.version));
          this.#to(row.jobId, "marked");
          return;
        case "marked":
          await this.#step("swap", () => o.installer.swap());
          await this.#step("swapped", () => {}); // renamed, not yet recorded (kill -9 tests)
          this.#to(row.jobId, "swapped", { step: "restarting", version: d.version });
          o.audit("update.installed", { jobId: row.jobId, version: d.version, from: o.version });
          return;
        case "swapped":
          if (o.version === d.version) return await this.#confirm(row, d, signal);
          // The old binary runs, the trial is not over: restart into the new one.
          await this.#sendOwed(
            AbortSignal.any([signal, AbortSignal.timeout(o.config.requestTimeout)]),
          ).catch(() => {});
          await Deno.remove(this.#part(row.jobId)).catch(() => {});
          await this.#step("restart", () => {});
          o.log.info("Update installed: restarting into the new binary", {
            jobId: row.jobId,
            version: d.version,
            exitCode: EXIT_RESTART,
          });
          o.audit("update.restart", {
            jobId: row.jobId,
            version: d.version,
            exitCode: EXIT_RESTART,
          });
          if (!requestExit(EXIT_RESTART, `update ${d.version} installed`)) {
            o.log.warn("Not running under `tern run`: restart the agent to use the new binary");
          }
          await _aborted(signal);
          return;
      }
    } catch (e) {
      if (jobAbort.signal.aborted) return; // canceled
      if (e instanceof DownloadError) return this.#fail(row.jobId, e.reason, e.message);
      if (e instanceof JobsError && e.terminal) return this.#cancel(row.jobId, e.message);
      throw e;
    } finally {
      this.#jobAbort = undefined;
    }
  }

  #bundle(d: UpdateDocument): Bundle | undefined {
    const c = this.#o.config.bundles[d.name ?? ""];
    return c ? new Bundle(c.dir, c) : undefined;
  }

  /** A bundle from `verified` on: unpack, keep, swap, post-install (rollback when it fails). */
  async #installBundle(row: UpdateRow, d: UpdateDocument): Promise<void> {
    const o = this.#o;
    const b = this.#bundle(d);
    if (!b) return this.#fail(row.jobId, "unknown-bundle", `Bundle "${d.name}" is not configured`);
    const log = { jobId: row.jobId, bundle: d.name, version: d.version };
    let phase = row.phase;
    if (phase === "verified") {
      try {
        await this.#step("unpack", () => b.unpack(this.#part(row.jobId), d.version));
      } catch (e) {
        return this.#fail(row.jobId, "bad-bundle", (e as Error).message);
      }
      this.#to(row.jobId, phase = "staged");
    }
    if (phase === "staged") {
      await this.#step("keep", () => b.keep());
      this.#to(row.jobId, phase = "kept");
    }
    if (phase === "kept") {
      await this.#step("swap", () => b.swap(d.version));
      this.#to(row.jobId, phase = "swapped", { step: "post-install", version: d.version });
      o.audit("update.installed", log);
      await Deno.remove(this.#part(row.jobId)).catch(() => {});
    }
    const problem = await b.postInstall(d.version);
    if (!problem) {
      await b.prune().catch(() => {});
      o.store.set(row.jobId, "succeeded", o.clock.now(), {
        reason: null,
        report: { status: "SUCCEEDED", details: { bundle: d.name!, version: d.version } },
      });
      o.log.info("Bundle updated", log);
      o.audit("update.succeeded", log);
      return;
    }
    o.audit("update.rollback", { ...log, reason: problem }, "failure");
    const back = await b.restore();
    const prev = await b.current();
    const again = back && prev ? await b.postInstall(prev) : undefined;
    this.#fail(
      row.jobId,
      "post-install",
      `${problem}; ${back ? `back to ${prev}` : "no previous release"}${
        again ? ` (its post-install failed too: ${again})` : ""
      }`,
    );
  }

  async #step(step: string, fn: () => Promise<void> | void): Promise<void> {
    await this.#o.beforeStep?.(step);
    await fn();
  }

  async #download(row: UpdateRow, d: UpdateDocument, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    let reported = row.bytes;
    await download({
      http: o.http,
      clock: o.clock,
      url: d.url,
      path: this.#part(row.jobId),
      size: d.size,
      durable: row.bytes,
      bandwidth: o.config.bandwidth,
      reserve: o.config.reserve,
      backoff: o.config.backoff,
      signal,
      onProgress: (n) => {
        o.store.progress(row.jobId, n, o.clock.now());
        // Progress to Jobs at most every quarter of the file (each update counts against limits).
        if (n - reported >= d.size / 4 && n < d.size) {
          reported = n;
          this.#to(row.jobId, "downloading", {
            step: "downloading",
            version: d.version,
            progress: `${Math.floor((n / d.size) * 100)}%`,
          });
          void this.#sendOwed(signal).catch(() => {});
        }
      },
      refreshUrl: async () => {
        const e = await o.jobs.get(row.jobId, signal);
        const url = e?.jobDocument?.url;
        if (typeof url !== "string") throw new Error("The job document has no url");
        return url;
      },
    });
  }

  /** Apply now, or wait for the window and idleness; false while waiting (the loop comes back). */
  async #mayApply(signal: AbortSignal): Promise<boolean> {
    const o = this.#o;
    const now = o.clock.now();
    if (!inWindow(o.config.window, now)) {
      this.#waitingFor = "maintenance window";
      await o.clock.sleep(Math.min(msUntilChange(o.config.window, now), 60_000), signal);
      return false;
    }
    if (o.config.apply === "idle" && !o.idle()) {
      this.#waitingFor = "idle";
      await o.clock.sleep(Math.min(o.config.idleFor, 10_000), signal);
      return false;
    }
    this.#waitingFor = undefined;
    return true;
  }

  /** The new binary runs: healthy within the timeout → SUCCEEDED; else roll back and restart. */
  async #confirm(row: UpdateRow, d: UpdateDocument, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    this.#checking = true;
    const deadline = o.clock.now() + o.config.healthTimeout;
    let problem: string | undefined = "not checked";
    while (o.clock.now() < deadline) {
      problem = o.healthy();
      if (!problem) break;
      await o.clock.sleep(200, signal);
    }
    this.#checking = false;
    if (!problem) {
      await o.installer.endTrial();
      o.store.set(row.jobId, "succeeded", o.clock.now(), {
        reason: null,
        report: { status: "SUCCEEDED", details: { version: d.version, step: "done" } },
      });
      o.log.info("Update succeeded", { jobId: row.jobId, version: d.version });
      o.audit("update.succeeded", { jobId: row.jobId, version: d.version });
      return;
    }
    const reason = `health check failed after ${o.config.healthTimeout} ms: ${problem}`;
    o.log.error("Update unhealthy: restoring the previous binary", { jobId: row.jobId, reason });
    o.audit("update.rollback", { jobId: row.jobId, version: d.version, reason }, "failure");
    await this.#step("restore", () => {});
    await o.installer.restore(row.jobId, reason, () => o.beforeStep?.("restore-copy"));
    requestExit(EXIT_RESTART, "rolled back");
    await _aborted(signal);
  }

  /** After a restart: a rollback to report, or a trial to finish. */
  async #recover(): Promise<boolean> {
    const o = this.#o;
    const m = await o.installer.markers();
    if (m.rollback && m.pending) {
      // A restore was cut short: finish it, then start the previous binary.
      await o.installer.restore(m.rollback.job, m.rollback.reason);
      requestExit(EXIT_RESTART, "rollback finished");
      return true;
    }
    if (m.rollback) {
      const row = o.store.get(m.rollback.job);
      if (row && row.phase !== "failed") {
        this.#fail(row.jobId, "rolled-back", `Rolled back to ${o.version}: ${m.rollback.reason}`);
        o.audit(
          "update.rolledback",
          { jobId: row.jobId, to: o.version, reason: m.rollback.reason },
          "failure",
        );
      }
      await o.installer.clearRollback();
      return false;
    }
    const row = o.store.active();
    if (!row) {
      if (m.pending) await o.installer.endTrial(); // a marker without a job: stale
      return false;
    }
    // killed after the rename, before "swapped" was stored: the new binary runs.
    if (m.pending?.job === row.jobId && row.phase === "marked" && o.version === m.pending.version) {
      this.#to(row.jobId, "swapped", { step: "restarting", version: m.pending.version });
    }
    return false;
  }

  /**
   * A `tern.rotateCertificate` job: rotate (new key and certificate, proved on
   * the new connection, else rolled back) and report the outcome. After a
   * restart mid-way the job runs again and the rotation resumes or repeats.
   */
  async #rotateCertificate(row: UpdateRow): Promise<void> {
    const o = this.#o;
    if (!o.rotate) {
      return this.#fail(
        row.jobId,
        "not-supported",
        "This device does not manage its certificate (provision.enabled is false)",
      );
    }
    o.audit("update.rotate", { jobId: row.jobId });
    const r = await o.rotate();
    if (r.outcome !== "success") {
      return this.#fail(row.jobId, `rotation-${r.outcome}`, r.error ?? r.outcome);
    }
    o.store.set(row.jobId, "succeeded", o.clock.now(), {
      reason: "certificate rotated",
      report: {
        status: "SUCCEEDED",
        details: { step: "rotated", certificateId: r.certificateId ?? "" },
      },
    });
    o.log.info("Certificate rotation job done", { jobId: row.jobId });
    o.audit("update.succeeded", { jobId: row.jobId, rotated: r.certificateId });
  }

  #fail(jobId: string, reason: string, message: string): void {
    const o = this.#o;
    o.store.set(jobId, "failed", o.clock.now(), {
      reason: message,
      report: { status: "FAILED", details: { reason, message } },
    });
    o.log.warn("Update failed", { jobId, reason, message });
    o.audit("update.failed", { jobId, reason, message }, "failure");
    void Deno.remove(this.#part(jobId)).catch(() => {});
    void o.installer.discard();
  }

  #to(jobId: string, phase: UpdateRow["phase"], details?: Record<string, string>): void {
    const report: PendingReport | undefined = details
      ? { status: "IN_PROGRESS", details }
      : undefined;
    this.#o.store.set(jobId, phase, this.#o.clock.now(), report ? { report } : {});
  }

  /** Send every owed report; a refusal for good clears it. */
  async #sendOwed(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    for (const row of o.store.owed()) {
      const r = row.report!;
      for (let attempt = 0;; attempt++) {
        try {
          const v = await o.jobs.update(row.jobId, {
            status: r.status,
            details: r.details,
            expectedVersion: row.execVersion,
            stepTimeoutInMinutes: o.config.stepTimeoutMinutes,
          }, signal);
          if (v !== undefined) o.store.execVersion(row.jobId, v);
          const now = o.store.get(row.jobId);
          // Clear only if nothing newer was owed meanwhile.
          if (JSON.stringify(now?.report) === JSON.stringify(r)) {
            o.store.reported(row.jobId, o.clock.now());
          }
          break;
        } catch (e) {
          if (!(e instanceof JobsError)) throw e;
          if (e.code === "VersionMismatch") {
            const x = await o.jobs.get(row.jobId, signal).catch(() => undefined);
            const v = x?.versionNumber ?? e.executionState?.versionNumber;
            if (v !== undefined) {
              o.store.execVersion(row.jobId, v);
              row.execVersion = v;
              continue;
            }
          }
          if (e.terminal) {
            o.store.reported(row.jobId, o.clock.now());
            if (r.status === "IN_PROGRESS") this.#cancel(row.jobId, e.message);
            break;
          }
          if (e.retryable && attempt < 8) {
            await o.clock.sleep(fullJitter(attempt, o.config.backoff), signal);
            continue;
          }
          throw e;
        }
      }
    }
  }

  #part(jobId: string): string {
    return join(this.#o.stateDir, "update", `${jobId.replace(/[^A-Za-z0-9_-]/g, "_")}.part`);
  }

  get checking(): boolean {
    return this.#checking;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    this.#jobAbort?.abort();
    this.#offNotify?.();
    this.#wake.resolve();
    await this.#loop?.catch(() => {});
    await this.#o.jobs[Symbol.asyncDispose]();
  }
}

/** Resolves once `signal` is aborted (at once when it already is). */
function _aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));
}
