/**
 * The AWS IoT fleet provisioning MQTT API, over any connected
 * {@linkcode MqttClient} (the claim connection, or the device's own for a
 * rotation). Before each request the client subscribes to its `/accepted`
 * and `/rejected` topics, then publishes the JSON request (QoS 0, so nothing
 * stale is resent after a restart; a lost request times out and is retried):
 *
 * - `$aws/certificates/create-from-csr/json`: `{ certificateSigningRequest }`
 *   → `{ certificateId, certificatePem, certificateOwnershipToken }`
 * - `$aws/provisioning-templates/NAME/provision/json`:
 *   `{ certificateOwnershipToken, parameters }` → `{ deviceConfiguration, thingName }`
 *
 * A rejection (`{ statusCode, errorCode, errorMessage }`), a reply that is
 * not what AWS documents, or no reply within `timeout` ms throws a
 * {@linkcode ProvisionError} carrying those three fields.
 */

import type { MqttClient, MqttMessage } from "../../mqtt/mod.ts";

export const CREATE_FROM_CSR = "$aws/certificates/create-from-csr/json";

export function registerTopic(template: string): string {
  return `$aws/provisioning-templates/${template}/provision/json`;
}

/** A failed provisioning request, with AWS's fields when AWS answered. */
export class ProvisionError extends Error {
  override name = "ProvisionError";
  /** HTTP-like status from AWS (0: no answer: a timeout, offline, a bad reply). */
  readonly statusCode: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  /** Which request failed. */
  readonly request: "CreateCertificateFromCsr" | "RegisterThing" | "Connect" | "Prove";

  constructor(
    request: ProvisionError["request"],
    fields: { statusCode: number; errorCode: string; errorMessage: string },
  ) {
    super(
      `${request} failed: ${fields.errorCode} (${fields.statusCode}): ${fields.errorMessage}`,
    );
    this.request = request;
    this.statusCode = fields.statusCode;
    this.errorCode = fields.errorCode;
    this.errorMessage = fields.errorMessage;
  }

  /** The fields for status and audit (never the token). */
  toJSON(): Record<string, unknown> {
    return {
      request: this.request,
      statusCode: this.statusCode,
      errorCode: this.errorCode,
      errorMessage: this.errorMessage,
    };
  }
}

export interface CreatedCertificate {
  certificateId: string;
  certificatePem: string;
  certificateOwnershipToken: string;
}

export interface RegisteredThing {
  thingName: string;
  deviceConfiguration: Record<string, unknown>;
}

/** CreateCertificateFromCsr over MQTT. */
export async function createCertificateFromCsr(
  client: MqttClient,
  csrPem: string,
  options: { timeout: number; signal?: AbortSignal },
): Promise<CreatedCertificate> {
  const body = await _call(client, "CreateCertificateFromCsr", CREATE_FROM_CSR, {
    certificateSigningRequest: csrPem,
  }, options);
  const { certificateId, certificatePem, certificateOwnershipToken } = body;
  if (
    typeof certificateId !== "string" || typeof certificatePem !== "string" ||
    typeof certificateOwnershipToken !== "string" || !certificatePem.includes("BEGIN CERTIFICATE")
  ) {
    throw new ProvisionError("CreateCertificateFromCsr", {
      statusCode: 0,
      errorCode: "BadReply",
      errorMessage: "The accepted reply lacks certificateId, certificatePem or the token",
    });
  }
  return { certificateId, certificatePem, certificateOwnershipToken };
}

/** RegisterThing (the provisioning template) over MQTT. */
export async function registerThing(
  client: MqttClient,
  template: string,
  token: string,
  parameters: Record<string, string>,
  options: { timeout: number; signal?: AbortSignal },
): Promise<RegisteredThing> {
  const body = await _call(client, "RegisterThing", registerTopic(template), {
    certificateOwnershipToken: token,
    parameters,
  }, options);
  if (typeof body.thingName !== "string" || body.thingName === "") {
    throw new ProvisionError("RegisterThing", {
      statusCode: 0,
      errorCode: "BadReply",
      errorMessage: "The accepted reply has no thingName",
    });
  }
  const dc = body.deviceConfiguration;
  return {
    thingName: body.thingName,
    deviceConfiguration: dc && typeof dc === "object" ? dc as Record<string, unknown> : {},
  };
}

async function _call(
  client: MqttClient,
  request: "CreateCertificateFromCsr" | "RegisterThing",
  topic: string,
  payload: Record<string, unknown>,
  options: { timeout: number; signal?: AbortSignal },
): Promise<Record<string, unknown>> {
  const reply = Promise.withResolvers<{ ok: boolean; body: Record<string, unknown> }>();
  const on = (ok: boolean) => (m: MqttMessage) => {
    let body: unknown;
    try {
      body = m.json();
    } catch {
      body = undefined;
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      reply.reject(
        new ProvisionError(request, {
          statusCode: 0,
          errorCode: "BadReply",
          errorMessage: `The reply on "${m.topic}" is not a JSON object`,
        }),
      );
    } else reply.resolve({ ok, body: body as Record<string, unknown> });
  };
  const subs = [
    await client.subscribe(`${topic}/accepted`, on(true), { qos: 1 }),
    await client.subscribe(`${topic}/rejected`, on(false), { qos: 1 }),
  ];
  const timer = AbortSignal.any([
    AbortSignal.timeout(options.timeout),
    ...(options.signal ? [options.signal] : []),
  ]);
  const onAbort = () =>
    reply.reject(
      options.signal?.aborted ? options.signal.reason : new ProvisionError(request, {
        statusCode: 0,
        errorCode: "Timeout",
        errorMessage: `No reply on "${topic}/accepted" or "/rejected" within ${options.timeout} ms`,
      }),
    );
  timer.addEventListener("abort", onAbort, { once: true });
  try {
    const sent = await client.publish(topic, payload, { qos: 0 });
    if (sent.status !== "sent") {
      throw new ProvisionError(request, {
        statusCode: 0,
        errorCode: "Offline",
        errorMessage: "The connection was lost before the request went out",
      });
    }
    const { ok, body } = await reply.promise;
    if (ok) return body;
    throw new ProvisionError(request, {
      statusCode: typeof body.statusCode === "number" ? body.statusCode : 0,
      errorCode: typeof body.errorCode === "string" ? body.errorCode : "Rejected",
      errorMessage: typeof body.errorMessage === "string" ? body.errorMessage : "Rejected",
    });
  } finally {
    timer.removeEventListener("abort", onAbort);
    for (const s of subs) await s.unsubscribe();
  }
}
