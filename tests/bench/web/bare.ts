/**
 * The web benchmark's reference: a bare `Deno.serve` (public APIs only, run
 * with default flags) answering, per path, the bytes the agent answered for the
 * same case, from memory. Usage: `deno run --allow-net=127.0.0.1:PORT
 * --allow-read=SPEC bare.ts PORT SPEC`, where SPEC is a JSON file:
 *
 * ```json
 * { "/health": { "status": 200, "type": "application/json", "body": "<base64>" } }
 * ```
 *
 * `type` is sent as the content type when present (the JSON cases); bytes
 * without a type go out as `new Response(bytes)`. A request with a body (the
 * write case) is read to its end before the answer. Unknown paths get 404.
 */

/** One path's answer. */
export interface BareRoute {
  status: number;
  type?: string;
  /** base64 */
  body: string;
}

if (import.meta.main) {
  const [portArg, specPath] = Deno.args;
  const spec: Record<string, BareRoute> = JSON.parse(Deno.readTextFileSync(specPath!));
  const routes = new Map<string, () => Response>();
  for (const [path, r] of Object.entries(spec)) {
    const bytes = Uint8Array.fromBase64(r.body);
    if (r.type) {
      const text = new TextDecoder().decode(bytes);
      const headers = { "content-type": r.type };
      const init = r.status === 200 ? { headers } : { status: r.status, headers };
      routes.set(path, () => new Response(text, init));
    } else if (r.status === 200) {
      routes.set(path, () => new Response(bytes));
    } else {
      const init = { status: r.status };
      routes.set(path, () => new Response(bytes, init));
    }
  }
  const missing = () => new Response("not found", { status: 404 });
  Deno.serve({ hostname: "127.0.0.1", port: Number(portArg), onListen() {} }, (req) => {
    const url = req.url;
    const answer = routes.get(url.slice(url.indexOf("/", 8))) ?? missing;
    return req.body ? req.arrayBuffer().then(answer) : answer();
  });
}
