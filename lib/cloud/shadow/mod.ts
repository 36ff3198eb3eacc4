/**
 * AWS IoT Device Shadows front door: the shadows of a thing over the MQTT
 * connection (`Shadows`, `Shadow`), the merge rules, the limits, the topics
 * and the "cloud.shadow" service. See docs/shadows.md.
 */

export {
  type DesiredHandler,
  Shadow,
  type ShadowDirection,
  type ShadowOptions,
  type ShadowStatus,
  type ShadowView,
} from "./shadow.ts";
export { Shadows, type ShadowsOptions } from "./shadows.ts";
export { ShadowError } from "./_requests.ts";
export {
  checkShadowName,
  checkThingName,
  SHADOW_LIMITS,
  ShadowLimitError,
  stateBytes,
} from "./limits.ts";
export { apply, delta, diff, merge3, type State } from "./merge.ts";
export { type ShadowTopics, shadowTopics } from "./topics.ts";
export { bindModel, type ModelBinding } from "./bind.ts";
export { ShadowService, shadowService } from "./service.ts";
export { type ShadowRow, ShadowStore } from "../../db/shadow_store.ts";
