/**
 * S3 uploads front door: the "cloud.s3" service, its queue and the small S3
 * client. Other subsystems import only this file.
 */

export {
  type ListedPart,
  type Presigner,
  type PresignRequest,
  S3Client,
  type S3ClientOptions,
  S3Error,
  sha256,
} from "./client.ts";
export { type Job, partSizeFor, type Progress, type UploadState } from "./_job.ts";
export {
  listProgress,
  readProgress,
  requestCancel,
  UploadError,
  Uploads,
  type UploadsOptions,
} from "./uploads.ts";
export {
  checkUploadInput,
  s3Enabled,
  S3Service,
  s3Service,
  UPLOAD_STREAM,
  type UploadInput,
} from "./service.ts";
export { DirectoryWatch } from "./watch.ts";
export { answerPresign, type AnswerPresignOptions, mqttPresigner } from "./presign.ts";
