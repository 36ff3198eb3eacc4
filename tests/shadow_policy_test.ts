/**
 * The CloudFormation device policy allows exactly the shadow topics the
 * agent uses: what it publishes (get, update) and what it subscribes to and
 * receives (`ShadowTopics.replies`), for the classic shadow and named
 * shadows. (Text checks: no YAML parser is a dependency.)
 */

import { deepEqual } from "node:assert/strict";
import { shadowTopics } from "../lib/cloud/shadow/mod.ts";

const TEMPLATE = new URL("../deploy/cloudformation/tern.yaml", import.meta.url);
const THING = "${!iot:Connection.Thing.ThingName}";

/** The shadow resources of the statement with this action, as topics with the policy variables. */
function resources(t: string, action: string, kind: "topic" | "topicfilter"): string[] {
  const block =
    new RegExp(`Action: ${action}\\n\\s+Resource:\\n((?:\\s+- !Sub ".*"\\n)+)`).exec(t)?.[1] ??
      "";
  return [...block.matchAll(new RegExp(`:${kind}/(\\$aws/things/[^"]+)"`, "g"))].map((m) => m[1]!)
    .sort();
}

Deno.test("the device policy allows exactly the shadow topics the agent publishes, subscribes and receives", async () => {
  const t = await Deno.readTextFile(TEMPLATE);
  // A thing name with the policy variable in it is not a valid thing name: build with a stand-in.
  const ours = (name?: string) => {
    const x = shadowTopics("THING", name);
    const swap = (s: string) => s.replace("THING", THING).replace("/name/NAME/", "/name/*/");
    return { publish: [x.get, x.update].map(swap), replies: x.replies.map(swap) };
  };
  const classic = ours(), named = ours("NAME");
  deepEqual(resources(t, "iot:Publish", "topic"), [...classic.publish, ...named.publish].sort());
  deepEqual(resources(t, "iot:Receive", "topic"), [...classic.replies, ...named.replies].sort());
  deepEqual(
    resources(t, "iot:Subscribe", "topicfilter"),
    [...classic.replies, ...named.replies].sort(),
  );
});
