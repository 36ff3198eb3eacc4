import assert from "node:assert/strict";
import { matchesNoProxy, proxyForUrl } from "./proxy.ts";
import { parseRetryAfter } from "./_retry.ts";
import { redactUrl } from "./errors.ts";

Deno.test("proxyForUrl() picks the scheme's variable and honours NO_PROXY and loopback", () => {
  const env: Record<string, string> = {
    HTTPS_PROXY: "proxy.lan:3128",
    http_proxy: "http://p2.lan:8080",
    NO_PROXY: "internal.example.com,.corp,10.0.0.5:8443",
  };
  const get = (n: string) => env[n];
  assert.equal(proxyForUrl(new URL("https://api.example.com/"), get), "http://proxy.lan:3128");
  assert.equal(proxyForUrl(new URL("http://api.example.com/"), get), "http://p2.lan:8080");
  assert.equal(proxyForUrl(new URL("https://a.internal.example.com/"), get), undefined);
  assert.equal(proxyForUrl(new URL("https://x.corp/"), get), undefined);
  assert.equal(proxyForUrl(new URL("https://10.0.0.5:8443/"), get), undefined);
  assert.equal(proxyForUrl(new URL("https://10.0.0.5/"), get), "http://proxy.lan:3128");
  assert.equal(proxyForUrl(new URL("https://127.0.0.1:9/"), get), undefined);
  assert.equal(proxyForUrl(new URL("https://[::1]:9/"), get), undefined);
  assert.equal(matchesNoProxy(new URL("https://anything/"), "*"), true);
  assert.equal(matchesNoProxy(new URL("https://notexample.com/"), "example.com"), false);
});

Deno.test("parseRetryAfter() reads delta-seconds and HTTP dates", () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now), 10_000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("redactUrl() drops user info and secret query values", () => {
  assert.equal(
    redactUrl("https://u:pw@h.example/p?X-Amz-Signature=abc&X-Amz-Credential=AK%2Fx&n=1&apiKey=k"),
    "https://h.example/p?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&n=1&apiKey=[redacted]",
  );
});
