/**
 * Device Shadow MQTT topics, exactly as AWS documents them:
 * `$aws/things/THING/shadow[/name/NAME]/OP` with OP `get` and `update`,
 * the service's answers `OP/accepted` and `OP/rejected`, `delete/accepted`
 * (a delete made in the cloud), `update/delta` and `update/documents`. The
 * CloudFormation device policy (deploy/cloudformation/tern.yaml) allows
 * exactly these (tests/shadow_policy_test.ts).
 */

import { checkShadowName, checkThingName } from "./limits.ts";

export interface ShadowTopics {
  /** `$aws/things/THING/shadow` or `$aws/things/THING/shadow/name/NAME`. */
  base: string;
  get: string;
  update: string;
  /**
   * Every topic the device subscribes to, in subscription order: the answers
   * to its get and update, `delete/accepted` (a delete made in the cloud),
   * `update/delta` and `update/documents`. The agent never deletes a shadow,
   * so it neither publishes `delete` nor needs `delete/rejected`.
   */
  replies: string[];
  delta: string;
  documents: string;
}

/** The topics of one shadow; `name` undefined is the classic shadow. Throws on a bad name. */
export function shadowTopics(thing: string, name?: string): ShadowTopics {
  checkThingName(thing);
  if (name !== undefined) checkShadowName(name);
  const base = `$aws/things/${thing}/shadow${name === undefined ? "" : `/name/${name}`}`;
  const ops = ["get", "update"].flatMap((
    op,
  ) => [`${base}/${op}/accepted`, `${base}/${op}/rejected`]);
  return {
    base,
    get: `${base}/get`,
    update: `${base}/update`,
    delta: `${base}/update/delta`,
    documents: `${base}/update/documents`,
    replies: [
      ...ops,
      `${base}/delete/accepted`,
      `${base}/update/delta`,
      `${base}/update/documents`,
    ],
  };
}
