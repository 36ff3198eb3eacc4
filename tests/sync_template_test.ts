/**
 * The CloudFormation template and the engine agree: the table key, the
 * down-sync index (`_to` + `updated`), the TTL attribute of tombstones, the
 * default names, and the device policy's use of the credential provider's
 * thing name. (Text checks: no YAML parser is a dependency.)
 */

import assert from "node:assert/strict";
import { syncSection } from "../lib/config/mod.ts";

const TEMPLATE = new URL("../deploy/cloudformation/tern.yaml", import.meta.url);

Deno.test("the CloudFormation template creates what the sync engine reads and writes", async () => {
  const t = await Deno.readTextFile(TEMPLATE);
  const defaults = syncSection.parse({});
  const param = (name: string) =>
    new RegExp(`\\n  ${name}:\\n(?:    .*\\n)*?    Default: (\\S+)`).exec(t)?.[1];
  assert.equal(param("TableName"), defaults.table);
  assert.equal(param("IndexName"), defaults.index);
  assert.match(
    t,
    /KeySchema:\n\s+- \{ AttributeName: pk, KeyType: HASH \}\n\s+- \{ AttributeName: sk, KeyType: RANGE \}/,
  );
  assert.match(
    t,
    /- \{ AttributeName: _to, KeyType: HASH \}\n\s+- \{ AttributeName: updated, KeyType: RANGE \}/,
  );
  assert.match(t, /TimeToLiveSpecification:\n\s+AttributeName: _expires\n\s+Enabled: true/);
  assert.match(t, /dynamodb:LeadingKeys:\n(\s+- "[^"]*\$\{credentials-iot:ThingName\}[^"]*"\n){4}/);
  assert.match(t, /dynamodb:Attributes: \["_to"\]/);
  assert.equal(defaults.topic, "tern/${thing}/sync");
  assert.match(t, /topicfilter\/\$\{TopicRoot\}\/\$\{!iot:Connection\.Thing\.ThingName\}\/\*/);
});
