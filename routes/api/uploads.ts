/**
 * S3 uploads over REST (docs/s3.md):
 *
 * - `GET /api/uploads` (user): `{ uploads: [progress…], queue: {...} }`, newest first
 * - `GET /api/uploads/:id` (user): one upload's progress
 * - `POST /api/uploads` (admin): `{ file | data, key, bucket?, contentType?,
 *   metadata?, deleteAfterUpload? }` → 202 `{ id }`; a file must lie in
 *   `cloud.s3.directories`; 400 names the field and nothing is queued
 * - `DELETE /api/uploads/:id` (admin): cancel → `{ canceled: true|false }`
 *   (false: it had already ended)
 *
 * 404 for an unknown id, 503 while the "cloud.s3" service is not running.
 */

import type { S3Service, UploadInput } from "../../lib/cloud/s3/mod.ts";
import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

const FIELDS = ["file", "data", "key", "bucket", "contentType", "metadata", "deleteAfterUpload"];

export function registerUploads(d: WebDeps): void {
  const service = (): S3Service => {
    const s = d.service?.("cloud.s3") as S3Service | undefined;
    if (!s) {
      throw new HttpError(503, "s3_off", "S3 uploads are off (cloud.s3.enabled) or not running");
    }
    return s;
  };
  const one = (id: string) => {
    const p = service().status(id);
    if (!p) throw new HttpError(404, "not_found", `No upload "${id}"`);
    return p;
  };

  d.app.get("/api/uploads", () => {
    const s = service();
    return Response.json({ uploads: s.list(), queue: s.status() });
  }, { role: "user" });

  d.app.get("/api/uploads/:id", (_req, ctx) => Response.json(one(ctx.params.id!)), {
    role: "user",
  });

  d.app.route("POST", "/api/uploads", async (_req, ctx) => {
    const s = service();
    const body = await ctx.json();
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "invalid", "Body must be a JSON object { file | data, key, … }");
    }
    const extra = Object.keys(body).filter((k) => !FIELDS.includes(k));
    if (extra.length) {
      throw new HttpError(
        400,
        "invalid",
        `Unknown key "${extra[0]}" (expected ${FIELDS.join(", ")})`,
      );
    }
    const b = body as Record<string, unknown>;
    if (b.data !== undefined && typeof b.data !== "string") {
      throw new HttpError(400, "invalid", '"data" must be a string');
    }
    if (b.deleteAfterUpload !== undefined && typeof b.deleteAfterUpload !== "boolean") {
      throw new HttpError(400, "invalid", '"deleteAfterUpload" must be a boolean');
    }
    let id: string;
    try {
      id = await s.upload(b as unknown as UploadInput);
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) {
        throw new HttpError(400, "invalid", e.message);
      }
      throw e;
    }
    return Response.json({ id }, { status: 202 });
  }, { role: "admin" });

  d.app.route("DELETE", "/api/uploads/:id", (_req, ctx) => {
    const id = ctx.params.id!;
    one(id);
    return Response.json({ canceled: service().cancel(id) });
  }, { role: "admin" });
}
