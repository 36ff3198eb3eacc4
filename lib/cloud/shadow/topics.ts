/**
 * Device Shadow MQTT topics, exactly as AWS documents them:
 * `$aws/things/THING/shadow[/name/NAME]/OP` with OP `get`, `update`,
 * `delete`, and the service's answers `OP/accepted`, `OP/rejected`,
 * `update/delta`, `update/documents`.
 */

import { checkShadowName, checkThingName } from "./limits.ts";

export interface ShadowTopics {
  /** `$aws/things/THING/shadow` or `$aws/things/THING/shadow/name/NAME`. */
  base: string;
  get: string;
  update: string;
  delete: string;
  /** Every topic the device subscribes to, in subscription order. */
  replies: string[];
  delta: string;
  documents: string;
}

/** The topics of one shadow; `name` undefined is the classic shadow. Throws on a bad name. */
export function shadowTopics(thing: string, name?: string): ShadowTopics {
  checkThingName(thing);
  if (name !== undefined) checkShadowName(name);
  const base = `$aws/things/${thing}/shadow${name === undefined ? "" : `/name/${name}`}`;
  const ops = ["get", "update", "delete"].flatMap((op) => [
    `${base}/${op}/accepted`,
    `${base}/${op}/rejected`,
  ]);
  return {
    base,
    get: `${base}/get`,
    update: `${base}/update`,
    delete: `${base}/delete`,
    delta: `${base}/update/delta`,
    documents: `${base}/update/documents`,
    replies: [...ops, `${base}/update/delta`, `${base}/update/documents`],
  };
}
