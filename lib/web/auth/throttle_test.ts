import assert from "node:assert/strict";
import { FakeClock } from "../../clock.ts";
import { addressKey, LoginThrottle } from "./throttle.ts";

Deno.test("addressKey: IPv4 as is, IPv6 by /64, v4-mapped as IPv4", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("::ffff:198.51.100.3"), "198.51.100.3");
});

Deno.test("an IPv6 client rotating addresses in its /64 stays throttled", async () => {
  const clock = new FakeClock();
  const t = new LoginThrottle({ clock, maxFailures: 2, delay: 1000, lockout: 60_000 });
  t.failure("a", "2001:db8:1:2::10");
  t.failure("b", "2001:db8:1:2::11");
  assert.ok(t.locked("c", "2001:db8:1:2::12"), "the /64 is locked out");
  assert.equal(t.wait("c", "2001:db8:1:3::1"), 0, "another /64 is not");
  await clock.advance(60_000);
  assert.equal(t.wait("c", "2001:db8:1:2::12"), 0);
});

function memoryStore() {
  const rows = new Map<string, { failures: number; until: number; forget: number }>();
  return {
    rows,
    load: () => [...rows].map(([key, r]) => ({ key, failures: r.failures, until: r.until })),
    save: (key: string, failures: number, until: number, forget: number) =>
      void rows.set(key, { failures, until, forget }),
    remove: (key: string) => void rows.delete(key),
  };
}

Deno.test("with a store, a new throttle (a restart) keeps the lockout; a success forgets it", async () => {
  const clock = new FakeClock();
  const store = memoryStore();
  const opts = { clock, maxFailures: 2, delay: 1000, lockout: 60_000, store };
  const t = new LoginThrottle(opts);
  t.failure("admin", "192.0.2.7");
  await clock.advance(1000);
  t.failure("admin", "192.0.2.7");
  assert.equal(store.rows.get("u:admin")?.failures, 2);
  assert.equal(store.rows.get("u:admin")?.forget, clock.now() + 120_000);
  const restarted = new LoginThrottle(opts);
  assert.ok(restarted.locked("admin", "198.51.100.1"));
  await clock.advance(60_000);
  restarted.success("admin", "192.0.2.7");
  assert.equal(store.rows.size, 0);
});

Deno.test("stale records are not loaded, and a failing store never fails a login", () => {
  const clock = new FakeClock();
  const store = memoryStore();
  store.save("u:old", 3, clock.now() - 70_000, 0);
  const t = new LoginThrottle({ clock, maxFailures: 2, lockout: 60_000, store });
  assert.equal(t.wait("old", "192.0.2.7"), 0);
  t.failure("old", "192.0.2.7");
  assert.equal(store.rows.get("u:old")?.failures, 1, "a long quiet starts a fresh count");
  const broken = {
    load: () => {
      throw new Error("database is locked");
    },
    save: () => {
      throw new Error("database is locked");
    },
    remove: () => {
      throw new Error("database is locked");
    },
  };
  const b = new LoginThrottle({ clock, maxFailures: 2, delay: 1000, store: broken });
  b.failure("x", "192.0.2.7");
  assert.ok(b.wait("x", "192.0.2.7") > 0, "memory still throttles");
  b.success("x", "192.0.2.7");
});
