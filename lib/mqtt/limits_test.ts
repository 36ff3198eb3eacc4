import { equal, throws } from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { checkLimits, isAwsIotHost, RateLimiter, resolveLimits } from "./limits.ts";

Deno.test("AWS IoT hosts get IoT Core limits, others MQTT's; config overrides", () => {
  equal(isAwsIotHost("abc-ats.iot.eu-west-1.amazonaws.com"), true);
  equal(isAwsIotHost("broker.local"), false);
  equal(resolveLimits("abc-ats.iot.eu-west-1.amazonaws.com").payload, 131072);
  equal(resolveLimits("broker.local").topicLevels, Infinity);
  equal(resolveLimits("broker.local", { publishRate: 5 }).publishRate, 5);
});

Deno.test("checkLimits names the limit that is exceeded", () => {
  const l = resolveLimits("x.iot.us-east-1.amazonaws.com");
  checkLimits("a/b/c/d/e/f/g/h", 131072, l);
  throws(() => checkLimits("a", 131073, l), {
    code: "LIMIT",
    message: 'Payload of 131073 bytes to "a" exceeds the limit of 131072 bytes',
  });
  throws(() => checkLimits("a/b/c/d/e/f/g/h/i", 1, l), {
    message: /9 levels, over the limit of 8 \(7 slashes\)/,
  });
  throws(() => checkLimits("é".repeat(129), 1, l), { message: /258 bytes, over the limit of 256/ });
});

Deno.test("RateLimiter paces to the configured rate on an injected clock", async () => {
  const clock = new FakeClock();
  const r = new RateLimiter(100, clock);
  let sent = 0;
  for (let i = 0; i < 150; i++) if (r.delay() === 0) sent++;
  equal(sent, 100, "a full bucket allows one second's worth");
  equal(r.delay(), 10, "then one every 10 ms");
  await clock.advance(10);
  equal(r.delay(), 0);
  equal(new RateLimiter(0, clock).delay(), 0, "0 is unlimited");
});
