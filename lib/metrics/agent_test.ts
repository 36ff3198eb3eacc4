import assert from "node:assert/strict";
import type { ServiceState } from "../service.ts";
import { agentFamilies } from "./agent.ts";
import { renderPrometheus } from "./prometheus.ts";

Deno.test("agentFamilies: service state and restarts, each service's own series, sync backlog per model", () => {
  const states: ServiceState[] = [
    { name: "database", state: "running", since: 0, restarts: 0 },
    { name: "sync", state: "running", since: 0, restarts: 2 },
    { name: "mqtt", state: "failed", since: 0, restarts: 5, lastError: "x" },
    { name: "broken", state: "running", since: 0, restarts: 0 },
  ];
  const services: Record<string, unknown> = {
    database: {},
    sync: {
      metrics: () => ({ SyncBacklog: 7, SyncItemsSent: 40, SyncUpAgeSeconds: 3 }),
      status: () => ({ models: [{ name: "Reading", backlog: 5 }, { name: "Note", backlog: 2 }] }),
    },
    broken: {
      metricFamilies: () => {
        throw new Error("a bug");
      },
    },
  };
  const fams = agentFamilies({
    states: () => states,
    get: (n) => {
      if (!(n in services)) throw new Error("not running");
      return services[n];
    },
  });
  const text = renderPrometheus(fams);
  assert.match(text, /^tern_service_up\{service="sync"\} 1$/m);
  assert.match(text, /^tern_service_up\{service="mqtt"\} 0$/m);
  assert.match(text, /^tern_service_restarts_total\{service="mqtt"\} 5$/m);
  assert.match(text, /^tern_sync_backlog 7$/m);
  assert.match(text, /^tern_sync_items_sent_total 40$/m);
  assert.match(text, /^tern_sync_model_backlog\{model="Reading"\} 5$/m);
  const byModel = fams.find((f) => f.name === "tern_sync_model_backlog")!;
  assert.equal(byModel.cloud?.name, "SyncBacklog");
  assert.deepEqual(byModel.cloud?.dimensions?.({ model: "Note" }), { Model: "Note" });
  assert.equal(
    fams.find((f) => f.name === "tern_service_restarts_total")!.cloud?.name,
    "ServiceRestarts",
  );
});
