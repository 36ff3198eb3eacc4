/**
 * The journald source against real journal files: the test writes them with
 * systemd-journal-remote (from journal export format) and the source runs
 * the real `journalctl --output=json --follow` on their directory. Each
 * event keeps the journal's timestamp; after a restart the source continues
 * after the saved cursor (no entry twice, none lost), including entries that
 * arrived while it was stopped. Skipped, saying so, where the journal tools
 * are missing (`deno task peers` installs them).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { systemClock } from "../lib/clock.ts";
import { decodeRecord, journalMessage, JournalSource } from "../lib/cloud/logs/mod.ts";
import { Spool } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { PEERS, skipWithout } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";

const ignore = skipWithout("journal-remote", import.meta.url);
const BOOT = "1db760fab74e4f75b57596773522c365";

/** Write a journal file with one entry per message, 1 ms apart from `startUs` (µs; same boot). */
async function writeJournal(path: string, startUs: number, messages: string[]): Promise<void> {
  const text = messages.map((m, i) =>
    `__REALTIME_TIMESTAMP=${startUs + i * 1000}\n__MONOTONIC_TIMESTAMP=${
      startUs + i * 1000 - 1_700_000_000_000_000
    }\n` +
    `_BOOT_ID=${BOOT}\nMESSAGE=${m}\nSYSLOG_IDENTIFIER=myapp\n_PID=42\nPRIORITY=6\n\n`
  ).join("");
  const child = new Deno.Command(PEERS["journal-remote"].path()!, {
    args: [`--output=${path}`, "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test({
  name: "journal entries keep their own time and continue after the saved cursor across a restart",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tern_journal_" });
    const jdir = join(dir, "journal");
    await Deno.mkdir(jdir);
    const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
    const ring = new RingSink();
    const log = new LogHub({ sinks: [ring] }).logger("cloud.logs");
    const stream = Spool.of(db, { clock: systemClock, log }).stream("logs.journal");
    const source = () =>
      new JournalSource({
        spool: stream,
        dest: {
          group: "/tern/j",
          stream: "{thing}/journal",
          values: { thing: "d1", device: "d1" },
        },
        clock: systemClock,
        log,
        directory: jdir,
        startAt: "beginning",
        backoff: { min: 50, max: 200 },
      });
    const messages = () => stream.peek({ maxRecords: 100 }).map((r) => decodeRecord(r).message);
    try {
      const t0 = (Date.now() - 60_000) * 1000;
      await writeJournal(join(jdir, "a.journal"), t0, ["hello one", "hello two"]);
      const first = source();
      const stop1 = new AbortController();
      const run1 = first.run(stop1.signal);
      await until(() => stream.backlog === 2, { ms: 10_000, what: "two journal entries" });
      stop1.abort();
      await run1;
      assert.deepEqual(messages(), ["myapp[42]: hello one", "myapp[42]: hello two"]);
      const rows = stream.peek();
      assert.deepEqual(rows.map((r) => r.time), [t0 / 1000, t0 / 1000 + 1]);
      const cursor = stream.state("cursor");
      assert.match(cursor ?? "", /^s=.*;i=2;/);
      assert.ok(first.args().includes(`--after-cursor=${cursor}`));

      // Entries written while the source is stopped arrive after a restart, once.
      await writeJournal(join(jdir, "b.journal"), t0 + 10_000_000, ["hello three", "hello four"]);
      const second = source();
      const stop2 = new AbortController();
      const run2 = second.run(stop2.signal);
      await until(() => stream.backlog === 4, {
        ms: 10_000,
        what: "the entries written while down",
      });
      await new Promise((r) => setTimeout(r, 300)); // nothing else comes
      stop2.abort();
      await run2;
      assert.deepEqual(messages(), [
        "myapp[42]: hello one",
        "myapp[42]: hello two",
        "myapp[42]: hello three",
        "myapp[42]: hello four",
      ]);
    } finally {
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a journal entry becomes IDENTIFIER[PID]: MESSAGE, binary messages decoded", () => {
  assert.equal(
    journalMessage({ MESSAGE: "up", SYSLOG_IDENTIFIER: "sshd", _PID: "7" }),
    "sshd[7]: up",
  );
  assert.equal(journalMessage({ MESSAGE: [104, 105], _COMM: "x" }), "x: hi");
  assert.equal(journalMessage({ MESSAGE: "bare" }), "bare");
});
