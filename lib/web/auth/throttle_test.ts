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
