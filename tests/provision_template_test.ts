/**
 * The CloudFormation template holds what provisioning by claim needs: a claim
 * policy allowing exactly the fleet provisioning topics the agent uses
 * (lib/cloud/provision/fleet.ts) and nothing under `tern/`, the provisioning
 * template with the parameters of the documented config and its role, and
 * the same topics in the device policy for rotation. (Text checks: no YAML
 * parser is a dependency.)
 */

import assert from "node:assert/strict";
import { CREATE_FROM_CSR, registerTopic } from "../lib/cloud/provision/mod.ts";

const TEMPLATE = new URL("../deploy/cloudformation/tern.yaml", import.meta.url);

Deno.test("the claim policy, provisioning template and role are in the CloudFormation template", async () => {
  const t = await Deno.readTextFile(TEMPLATE);
  const claim = /\n {2}ClaimPolicy:\n([\s\S]+?)\n {2}\S/.exec(t)?.[1] ?? "";
  const topics = [...claim.matchAll(/:(topic|topicfilter)\/([^"]+)"/g)].map((m) =>
    `${m[1]} ${m[2]}`
  );
  const reg = registerTopic("${ProvisioningTemplateName}");
  assert.deepEqual(
    topics.sort(),
    [
      `topic ${CREATE_FROM_CSR}*`,
      `topic ${reg}*`,
      `topicfilter ${CREATE_FROM_CSR}/*`,
      `topicfilter ${reg}/*`,
    ].sort(),
  );
  assert.ok(!claim.includes("tern/"), "the claim certificate cannot use device topics");
  const body = /TemplateBody: !Sub \|\n([\s\S]+?)\n(?:\n| {0,6}\S)/.exec(t)?.[1] ?? "";
  const json = JSON.parse(body.replace("${DevicePolicy}", "DP"));
  assert.deepEqual(Object.keys(json.Parameters).sort(), [
    "AWS::IoT::Certificate::Id",
    "DeviceId",
    "SerialNumber",
  ]);
  assert.equal(json.Resources.certificate.Properties.Status, "ACTIVE");
  assert.equal(json.Resources.policy.Properties.PolicyName, "DP");
  assert.match(t, /ProvisioningRoleArn: !GetAtt ProvisioningRole.Arn/);
  assert.match(t, /AWSIoTThingsRegistration/);
  // The device policy lets a device rotate its certificate over the same topics.
  const device = /\n {2}DevicePolicy:\n([\s\S]+?)\n {2}ClaimPolicy:/.exec(t)?.[1] ?? "";
  assert.ok(device.includes(`topic/${CREATE_FROM_CSR}*`));
  assert.ok(device.includes(`topicfilter/${reg}/*`));
});
