/**
 * The embedded web server: an app with routes and middleware that runs
 * without a socket (`app.request(req)`), a server that puts it on http/https
 * endpoints, the static site from memory, SSE and WebSocket helpers, users,
 * sessions and tokens. The agent's "web" service, which puts the device's
 * routes on it, is the app's: routes/web_service.ts.
 */

export {
  type Authenticator,
  type ConnInfo,
  type Handler,
  type Middleware,
  type RouteOptions,
  WebApp,
  type WebAppOptions,
  withHeaders,
} from "./app.ts";
export { compose, isPromise, mapResponse } from "./middleware/compose.ts";
export { type BodyLimits, limitStream, type Parser, WebContext, type WebUser } from "./context.ts";
export {
  badRequest,
  errorJson,
  type FieldProblem,
  forbidden,
  HttpError,
  type HttpErrorOptions,
  notFound,
  toErrorResponse,
  unauthorized,
} from "./errors.ts";
export { type RouteMatch, Router } from "./router.ts";
export { parseRange, safePath, StaticSite, type StaticSiteOptions } from "./static.ts";
export {
  contentType,
  loadDir,
  prepareAll,
  prepareFile,
  readDir,
  type StaticFile,
} from "./_static_files.ts";
export { utf8, utf8Strict } from "./_text.ts";
export { type SseEvent, SseStream } from "./sse.ts";
export { upgrade, type UpgradeOptions } from "./websocket.ts";
export {
  type AccessEntry,
  AccessLog,
  accessLogger,
  type AccessLogOptions,
  combinedLine,
  jsonLine,
} from "./access_log.ts";
export { WebMetrics } from "./metrics.ts";
export { type BoundEndpoint, WebServer, type WebServerOptions } from "./server.ts";
export { Cors, type CorsOptions } from "./middleware/cors.ts";
export { isDocumentType, SecurityHeaders } from "./middleware/security_headers.ts";
export { Roles } from "./auth/roles.ts";
export {
  hashPassword,
  MAX_PASSWORD,
  randomToken,
  timingSafeEqual,
  verifyPassword,
} from "./auth/password.ts";
export { LoginThrottle, type ThrottleOptions } from "./auth/throttle.ts";
export { readCookie, SessionAuth, type SessionAuthOptions } from "./auth/sessions.ts";
export {
  AuthStore,
  defineAuthModels,
  secretId,
  type TokenInfo,
  USER_NAME,
  type UserInfo,
} from "./auth/store.ts";
