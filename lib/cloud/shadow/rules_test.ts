import { deepEqual, equal } from "node:assert/strict";
import { afterAccepted, afterDelete, merged, pendingOf } from "./_rules.ts";
import type { ShadowRow } from "../../db/shadow_store.ts";

const row = (o: Partial<ShadowRow>): ShadowRow => ({
  desired: {},
  reported: {},
  base: { desired: {}, reported: {} },
  version: 0,
  exists: false,
  synced: 0,
  ...o,
});

Deno.test("pending is diff(base, local): offline changes coalesce to the latest value of each field", () => {
  const r = row({
    base: { desired: {}, reported: { a: 1, b: 1, gone: 1 } },
    reported: { a: 3, b: 1, c: 5 },
  });
  deepEqual(pendingOf(r, "both"), { reported: { a: 3, c: 5, gone: null } });
  deepEqual(pendingOf(r, "cloudToDevice"), {});
});

Deno.test("a cloud document merges three ways: reported prefers the device, desired the cloud", () => {
  const r = row({
    base: { desired: { mode: "eco", fan: 1 }, reported: { t: 20, x: 1 } },
    desired: { mode: "comfort", fan: 1 },
    reported: { t: 21, x: 1 },
    version: 4,
    exists: true,
  });
  const next = merged(
    r,
    { desired: { mode: "off", fan: 2 }, reported: { t: 25, x: 9 } },
    6,
    "both",
    1000,
  );
  deepEqual(next.desired, { mode: "off", fan: 2 });
  deepEqual(next.reported, { t: 21, x: 9 });
  deepEqual(next.base, { desired: { mode: "off", fan: 2 }, reported: { t: 25, x: 9 } });
  equal(next.version, 6);
  deepEqual(pendingOf(next, "both"), { reported: { t: 21 } });
});

Deno.test("an accepted update moves base on; a skipped version or an unconditional update asks for a get", () => {
  const r = row({
    reported: { a: 2 },
    base: { desired: {}, reported: { a: 1 } },
    version: 3,
    exists: true,
  });
  const ok = afterAccepted(r, { reported: { a: 2 } }, 4, true, 1);
  deepEqual(ok.row.base.reported, { a: 2 });
  equal(ok.needGet, false);
  equal(afterAccepted(r, { reported: { a: 2 } }, 6, true, 1).needGet, true);
  equal(afterAccepted(r, { reported: { a: 2 } }, 4, false, 1).needGet, true);
  equal(afterAccepted(r, { reported: { a: 2 } }, 3, true, 1).row.version, 3, "echo merged first");
});

Deno.test("a delete in the cloud keeps reported to recreate, or clears the copy", () => {
  const r = row({
    desired: { s: 1 },
    reported: { a: 1 },
    base: { desired: { s: 1 }, reported: { a: 1 } },
    version: 7,
    exists: true,
  });
  const again = afterDelete(r, true);
  deepEqual(pendingOf(again, "both"), { reported: { a: 1 } });
  deepEqual(afterDelete(r, false).reported, {});
  equal(afterDelete(r, false).exists, false);
});
