import { equal, throws } from "node:assert/strict";
import { checkFilter, checkTopicName, expandTopic, topicMatches } from "./topic.ts";

const vars = { thing: "pump-42", deviceId: "dev-1" };

Deno.test("expandTopic replaces ${thing} and ${deviceId} and names unknown variables", () => {
  equal(expandTopic("dt/${thing}/${deviceId}/t", vars), "dt/pump-42/dev-1/t");
  equal(expandTopic("plain/topic", vars), "plain/topic");
  throws(() => expandTopic("dt/${thng}", vars), {
    message: 'Unknown topic variable "${thng}" in "dt/${thng}" (did you mean "${thing}"?)',
  });
  throws(() => expandTopic("dt/${zzz}", vars), /known: "\$\{thing\}", "\$\{deviceId\}"/);
});

Deno.test("topicMatches follows MQTT wildcard rules, $-topics excluded from leading wildcards", () => {
  const cases: [string, string, boolean][] = [
    ["a/b", "a/b", true],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["+/+", "a/b", true],
    ["+", "a/b", false],
    ["#", "a/b", true],
    ["#", "$aws/things/x", false],
    ["+/things/#", "$aws/things/x", false],
    ["$aws/things/+/shadow/#", "$aws/things/x/shadow/update/accepted", true],
    ["a/+/c", "a//c", true],
    ["a/b", "a/b/", false],
  ];
  for (const [f, t, want] of cases) equal(topicMatches(f, t), want, `${f} vs ${t}`);
});

Deno.test("checkFilter and checkTopicName reject misplaced wildcards", () => {
  checkFilter("a/+/#");
  throws(() => checkFilter("a/#/b"), /"#" must be a whole level and the last one/);
  throws(() => checkFilter("a/b+"), /"\+" must be a whole level/);
  throws(() => checkTopicName("a/+"), /wildcard/);
  throws(() => checkTopicName(""), /empty/);
});
