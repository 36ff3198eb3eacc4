/**
 * The `mqtt` config section: defaults, cross-field checks with clear
 * messages, and the permissions it contributes.
 */

import { deepEqual, equal, match, throws } from "node:assert/strict";
import { mqttBrokerUrl, mqttPermissions, mqttSection } from "../lib/config/_mqtt.ts";

Deno.test("mqtt section defaults: off, MQTT 3.1.1, 60 s keep-alive, bounded queue rejecting when full", () => {
  const m = mqttSection.parse({});
  equal(m.enabled, false);
  equal(m.protocolVersion, 4);
  equal(m.keepalive, 60);
  equal(m.cleanSession, true);
  deepEqual(m.reconnect, { min: 1000, max: 120000, authMin: 60000, authMax: 3600000 });
  equal(m.queue.maxMessages, 100000);
  equal(m.queue.full, "reject");
  equal(m.queue.qos0, "drop");
  equal(m.responseTopic, "tern/${thing}/response");
});

Deno.test("mqtt section rejects contradictions with messages naming the keys", () => {
  const problems = (v: unknown) => {
    const r = mqttSection.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  match(problems({ enabled: true }).join("\n"), /url: Set "url" or "endpoint" to enable MQTT/);
  match(
    problems({ url: "mqtt://a:1883", endpoint: "x.iot.eu-west-1.amazonaws.com" }).join("\n"),
    /endpoint: Set either "url" or "endpoint", not both/,
  );
  match(
    problems({ url: "mqtt://a:1883", cert: "c.pem" }).join("\n"),
    /key: "cert" and "key" go together/,
  );
  match(problems({ url: "http://a" }).join("\n"), /mqtts:\/\/host:8883/);
  match(problems({ schedule: [{ from: "8:00", to: "09:00" }] }).join("\n"), /a time like "08:30"/);
  throws(() => mqttSection.parse({ queue: { full: "dropNewest" } }));
});

Deno.test("mqttPermissions: broker host:port and the PEM files, resolved against the config dir", () => {
  const base = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };
  const m = mqttSection.parse({
    enabled: true,
    endpoint: "abc-ats.iot.eu-west-1.amazonaws.com",
    port: 443,
    cert: "certs/d.crt",
    key: "certs/d.key",
    ca: "/opt/ca.pem",
  });
  equal(mqttBrokerUrl(m), "mqtts://abc-ats.iot.eu-west-1.amazonaws.com:443");
  deepEqual(mqttPermissions(m, base), {
    net: ["abc-ats.iot.eu-west-1.amazonaws.com:443"],
    read: ["/etc/tern/certs/d.crt", "/etc/tern/certs/d.key", "/opt/ca.pem"],
  });
  deepEqual(
    mqttPermissions(mqttSection.parse({ enabled: true, url: "ws://10.0.0.2/mqtt" }), base),
    {
      net: ["10.0.0.2:80"],
      read: [],
    },
  );
  deepEqual(mqttPermissions(mqttSection.parse({ url: "mqtt://a:1" }), base), {});
});
