/**
 * Configuration front door: the schema (defaults in one place), the loader of
 * a config directory, `ConfigError`, and the permission derivation.
 */

export { type Config, configSchema, defaultConfig, MAIN_FILE, SECTION_FILE } from "./schema.ts";
export { ConfigError, type ConfigProblem } from "./errors.ts";
export {
  collectSecrets,
  ENV_CLI,
  ENV_OVERRIDES,
  formatPath,
  loadConfig,
  type LoadedConfig,
  type LoadOptions,
  safeEnv,
} from "./loader.ts";
export { type PathBase, type PermissionNeeds } from "./_types.ts";
export { type WebConfig } from "./_web.ts";
export {
  checkValue,
  type DatabaseConfig,
  describeValue,
  FIELD_TYPES,
  type FieldDef,
  isModelName,
  type ModelDef,
  type ModelInput,
  modelSchema,
  RESERVED_FIELDS,
  type SchemaConfig,
  templateFields,
} from "./_database.ts";
export { type MqttConfig } from "./_mqtt.ts";
export { type ShadowConfig, type ShadowEntry } from "./_shadow.ts";
export { type AwsConfig } from "./_aws.ts";
export { type HttpConfig } from "./_http.ts";
export {
  CONFLICT_POLICIES,
  type ConflictPolicy,
  type SyncConfig,
  syncEndpoint,
  syncSection,
} from "./_sync.ts";
export {
  type CloudConfig,
  type CloudLogsConfig,
  cloudSection,
  type LogFileSource,
  logsEndpoint,
  RETENTION_DAYS,
} from "./_cloud.ts";
export { type CloudMetricsConfig, metricsEndpoint } from "./_cloud_metrics.ts";
export { type AuditConfig, auditLogsEndpoint, cloudtrailEndpoint } from "./_audit.ts";
export { type ProvisionConfig } from "./_provision.ts";
export { updateBinary, type UpdateConfig } from "./_update.ts";
export {
  checkPermissions,
  derivePermissions,
  type MissingPermission,
  permissionFlags,
} from "./permissions.ts";
