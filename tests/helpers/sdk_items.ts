/**
 * Items between sync's marshalling (`sync/_marshal.ts`, DynamoDB's JSON) and
 * the AWS SDK the tests use as the cloud side: the same JSON, typed for the
 * SDK. No emulator imported, so a child process can use it.
 */

import type { AttributeValue as SdkAttributeValue } from "@aws-sdk/client-dynamodb";
import { type AttributeMap, fromAttributes, toAttributes } from "../../sync/mod.ts";

/** A JSON object as the SDK's attribute map: sync's own marshalling, typed for the SDK. */
export function sdkItem(obj: Record<string, unknown>): Record<string, SdkAttributeValue> {
  return toAttributes(obj) as Record<string, SdkAttributeValue>;
}

/** An attribute map the SDK read, as a JSON object (sync's own unmarshalling). */
export function plainItem(item: Record<string, SdkAttributeValue>): Record<string, unknown> {
  return fromAttributes(item as AttributeMap);
}
