/**
 * The device's identity over REST (lib/cloud/provision):
 *
 * - `GET /api/provision` (user): the "provision" service's status (thing,
 *   certificate id, expiry, next rotation, flow under way, last error).
 * - `POST /api/provision/identity` (admin): an installer uploads a
 *   certificate bundle, `{ "bundle": "<cert PEM + key PEM>" }` or
 *   `{ "cert", "key" }`, with an optional `thing`; it is checked (PEM,
 *   current, the key is the certificate's) and becomes the identity in force
 *   (MQTT connects with it). 400 names the problem and nothing changes; the
 *   key is never echoed or logged. Audited as `provision.install`.
 *
 * 503 while provisioning is off (`provision.enabled`) or not running.
 */

import type { ProvisionService } from "../../lib/cloud/provision/mod.ts";
import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

const CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/;
const KEY =
  /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:EC |RSA )?PRIVATE KEY-----\s*/;

export function registerProvision(d: WebDeps): void {
  const service = (): ProvisionService => {
    const s = d.service?.("provision") as ProvisionService | undefined;
    if (!s) {
      throw new HttpError(
        503,
        "provision_off",
        "Provisioning is off (provision.enabled) or not running",
      );
    }
    return s;
  };

  d.app.get("/api/provision", () => Response.json(service().status()), { role: "user" });

  d.app.post("/api/provision/identity", async (_req, ctx) => {
    const s = service();
    const body = await ctx.json();
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "invalid", "Body must be a JSON object { bundle } or { cert, key }");
    }
    const b = body as Record<string, unknown>;
    const text = (k: string) => (typeof b[k] === "string" ? b[k] as string : undefined);
    const bundle = text("bundle");
    const cert = bundle ? CERT.exec(bundle)?.[0] : text("cert");
    const key = bundle ? KEY.exec(bundle)?.[0] : text("key");
    if (!cert || !key) {
      throw new HttpError(
        400,
        "invalid",
        bundle
          ? "The bundle must hold a PEM certificate and a PEM private key"
          : 'Give "bundle", or "cert" and "key" (PEM text)',
      );
    }
    const thing = text("thing");
    if (thing !== undefined && !/^[a-zA-Z0-9:_-]{1,128}$/.test(thing)) {
      throw new HttpError(400, "invalid", 'A thing name is 1-128 letters, digits, ":", "_", "-"');
    }
    const u = ctx.user;
    let id;
    try {
      id = await s.install({
        certPem: cert,
        keyPem: key,
        ...(thing ? { thing } : {}),
        actor: u ? { type: "user", id: u.username } : { type: "user", id: "anonymous" },
        ...(ctx.remoteAddr ? { source: ctx.remoteAddr } : {}),
      });
    } catch (e) {
      if (e instanceof TypeError) throw new HttpError(400, "invalid", e.message);
      throw e;
    }
    return Response.json({ thing: id.thing, certificateId: id.certificateId, ...s.status() });
  }, { role: "admin" });
}
