/**
 * The AWS IoT credential provider: a device exchanges its X.509 certificate
 * for temporary AWS credentials of the IAM role behind a role alias.
 *
 * Wire format: a mutual-TLS `GET https://<credentials endpoint>/role-aliases/<alias>/credentials`
 * with header `x-amzn-iot-thingname: <thing>`; the reply is
 * `{"credentials": {"accessKeyId", "secretAccessKey", "sessionToken", "expiration": "<ISO 8601>"}}`.
 * The endpoint is account specific (`xyz.credentials.iot.<region>.amazonaws.com`,
 * from `aws iot describe-endpoint --endpoint-type iot:CredentialProvider`).
 *
 * Wrap it in `RefreshingCredentials` to cache and refresh before expiry.
 */

import { HttpClient, HttpError } from "../http/mod.ts";
import { type AwsCredentials, CredentialsError, type SecretSink } from "./credentials.ts";

/** Options of {@linkcode IotCredentials}. */
export interface IotCredentialsOptions {
  /** Credentials endpoint host, optionally with `:port`. */
  endpoint: string;
  /** The role alias name. */
  roleAlias: string;
  /** The thing name sent in `x-amzn-iot-thingname`. */
  thingName: string;
  /** Device certificate (PEM text). */
  cert: string;
  /** Device private key (PEM text). */
  key: string;
  /** CA certificates to trust (PEM); the system roots (Amazon Root CA) when absent. */
  caCerts?: string[];
  /** Deadline of one fetch in ms. @default 15000 */
  timeoutMs?: number;
  /** Receives the secret key and session token as soon as they arrive. */
  onSecret?: SecretSink;
}

interface _Reply {
  credentials?: {
    accessKeyId?: unknown;
    secretAccessKey?: unknown;
    sessionToken?: unknown;
    expiration?: unknown;
  };
}

/** Fetches temporary credentials from the AWS IoT credential provider. */
export class IotCredentials implements AsyncDisposable {
  readonly #o: IotCredentialsOptions;
  readonly #http: HttpClient;
  readonly #url: string;

  constructor(options: IotCredentialsOptions) {
    for (const k of ["endpoint", "roleAlias", "thingName", "cert", "key"] as const) {
      if (!options[k]) throw new TypeError(`IoT credential provider needs "${k}"`);
    }
    this.#o = options;
    this.#url = `https://${options.endpoint}/role-aliases/${
      encodeURIComponent(options.roleAlias)
    }/credentials`;
    this.#http = new HttpClient({
      tls: {
        cert: options.cert,
        key: options.key,
        ...(options.caCerts ? { caCerts: options.caCerts } : {}),
      },
      timeoutMs: options.timeoutMs ?? 15_000,
      headersTimeoutMs: options.timeoutMs ?? 15_000,
      retries: 0, // the caller (RefreshingCredentials) owns backoff
    });
  }

  /** The provider function: one fetch per call. */
  readonly fetch = async (): Promise<AwsCredentials> => {
    const { roleAlias, thingName, endpoint } = this.#o;
    let reply: _Reply;
    try {
      reply = await this.#http.getJson<_Reply>(this.#url, {
        headers: { "x-amzn-iot-thingname": thingName },
        maxResponseBytes: 64 * 1024,
      });
    } catch (err) {
      const why = err instanceof HttpError && err.status
        ? `status ${err.status}${err.body ? ` ${err.body.slice(0, 200)}` : ""}`
        : err instanceof Error
        ? err.message
        : String(err);
      throw new CredentialsError(
        "CREDENTIALS_FAILED",
        `AWS IoT credential provider ${endpoint} gave no credentials for role alias "${roleAlias}" and thing "${thingName}": ${why}`,
        { cause: err },
      );
    }
    const c = reply?.credentials;
    for (const secret of [c?.secretAccessKey, c?.sessionToken]) {
      if (typeof secret === "string") this.#o.onSecret?.(secret);
    }
    const exp = typeof c?.expiration === "string" ? new Date(c.expiration) : undefined;
    if (
      !c || typeof c.accessKeyId !== "string" || typeof c.secretAccessKey !== "string" ||
      typeof c.sessionToken !== "string" || !exp || Number.isNaN(exp.getTime())
    ) {
      throw new CredentialsError(
        "CREDENTIALS_FAILED",
        `AWS IoT credential provider ${endpoint} replied without accessKeyId, secretAccessKey, sessionToken and expiration`,
      );
    }
    return {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
      expiration: exp,
    };
  };

  [Symbol.asyncDispose](): Promise<void> {
    this.#http.close();
    return Promise.resolve();
  }
}
