/**
 * What a message on a shadow's reply topics says, checked: a reply to a
 * request (`get|update|delete` + `/accepted|/rejected`, with its
 * clientToken), an `update/documents` (the current document and its
 * version) or an `update/delta` (the desired fields that differ, and the
 * version). Anything else, or a payload that is not a JSON object, is "bad"
 * (logged and ignored by the caller: a broken message never crashes the agent).
 */

import type { MqttMessage } from "../../mqtt/mod.ts";
import { isObject, type State } from "./merge.ts";
import type { ShadowTopics } from "./topics.ts";

export type ShadowMessage =
  | {
    kind: "reply";
    op: "get" | "update" | "delete";
    accepted: boolean;
    token: unknown;
    payload: Record<string, unknown>;
  }
  | { kind: "documents"; version: number; state: State; token: unknown }
  | { kind: "delta"; version: number; state: State }
  | { kind: "bad"; why: string };

const REPLY = /^(get|update|delete)\/(accepted|rejected)$/;

export function classify(topics: ShadowTopics, msg: MqttMessage): ShadowMessage {
  let payload: unknown;
  try {
    payload = msg.json();
  } catch {
    return { kind: "bad", why: "not JSON" };
  }
  if (!isObject(payload)) return { kind: "bad", why: "not a JSON object" };
  const suffix = msg.topic.slice(topics.base.length + 1);
  const reply = REPLY.exec(suffix);
  if (reply) {
    return {
      kind: "reply",
      op: reply[1] as "get" | "update" | "delete",
      accepted: reply[2] === "accepted",
      token: payload.clientToken,
      payload,
    };
  }
  if (suffix === "update/documents") {
    const cur = payload.current;
    if (!isObject(cur)) return { kind: "bad", why: "no current document" };
    return {
      kind: "documents",
      version: Number(cur.version),
      state: isObject(cur.state) ? cur.state : {},
      token: payload.clientToken,
    };
  }
  if (suffix === "update/delta") {
    return {
      kind: "delta",
      version: Number(payload.version),
      state: isObject(payload.state) ? payload.state : {},
    };
  }
  return { kind: "bad", why: "not a shadow reply topic" };
}
