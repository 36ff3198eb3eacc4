/**
 * `freePort()`: a TCP port on 127.0.0.1 that was free a moment ago, for a
 * child process or server to listen on (the smoke test, the benchmarks and
 * the tests; they import it from here because deploy/ never imports tests/).
 * The port is released before it is returned, so another process could take
 * it first: use it at once, on loopback only.
 */

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
