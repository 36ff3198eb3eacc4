/**
 * Over-the-air updates front door: the IoT Jobs client, the `tern.update`
 * job document and its checks, the resumable download, the A/B installer
 * and the "update" service. See docs/update.md.
 */

export {
  checkStatusDetails,
  type JobExecution,
  JobsClient,
  type JobsClientOptions,
  JobsError,
  TERMINAL_STATUSES,
} from "./jobs.ts";
export {
  BUNDLE_OPERATION,
  checkDocument,
  compareVersions,
  OPERATION,
  parseDocument,
  signedMessage,
  TARGETS,
  type UpdateDocument,
  UpdateRefused,
  verifySignature,
} from "./document.ts";
export {
  download,
  DownloadError,
  type DownloadOptions,
  freeBytes,
  sha256File,
} from "./download.ts";
export { Installer, type InstallStep, type Markers } from "./install.ts";
export { Updater, type UpdaterOptions } from "./updater.ts";
export { BUILT_VERSION, UpdateService, updateService } from "./service.ts";
export { type UpdateRow, UpdateStore } from "../../db/update_store.ts";
