/**
 * SigV4 against the public AWS SigV4 test suite (aws-sig-v4-test-suite):
 * credentials AKIDEXAMPLE, region us-east-1, service "service", time
 * 20150830T123600Z. Each case checks the canonical request, the string to
 * sign (hash published by the suite where noted) and the signature; the S3
 * cases are the S3 documentation's worked examples.
 */

import assert from "node:assert/strict";
import {
  canonicalRequest,
  credentialScope,
  presignUrl,
  signature,
  signRequest,
  stringToSign,
} from "./sigv4.ts";
import { EMPTY_SHA256, sha256Hex } from "./_crypto.ts";
import {
  SUITE_CASES,
  SUITE_CREDENTIALS,
  SUITE_DATE,
  SUITE_STS_TOKEN,
} from "./_sigv4_suite_fixtures.ts";

for (const c of SUITE_CASES) {
  Deno.test(`SigV4 test suite: ${c.name}`, async () => {
    const payloadHash = await sha256Hex(c.body ?? "");
    const { text, signedHeaders } = canonicalRequest({
      method: c.method,
      path: c.path,
      query: c.query ?? [],
      headers: c.headers,
      payloadHash,
    });
    assert.equal(text, c.canonicalRequest);
    const scope = credentialScope("20150830", "us-east-1", "service");
    const sts = await stringToSign(SUITE_DATE, scope, text);
    if (c.stringToSignHash) {
      assert.equal(
        sts,
        `AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n${c.stringToSignHash}`,
      );
    }
    const sig = await signature(
      SUITE_CREDENTIALS.secretAccessKey,
      SUITE_DATE,
      "us-east-1",
      "service",
      sts,
    );
    assert.equal(sig, c.signature);
    assert.equal(signedHeaders, c.signedHeaders);
  });
}

Deno.test("signRequest() signs a URL request like the suite's get-vanilla-query-order-key-case", async () => {
  const signed = await signRequest(
    { method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1" },
    {
      credentials: SUITE_CREDENTIALS,
      region: "us-east-1",
      service: "service",
      date: Date.UTC(2015, 7, 30, 12, 36, 0),
    },
  );
  assert.equal(
    signed.headers.get("authorization"),
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
      "SignedHeaders=host;x-amz-date, " +
      "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  );
  assert.equal(signed.headers.get("x-amz-date"), "20150830T123600Z");
  assert.equal(signed.url, "https://example.amazonaws.com/?Param1=value1&Param2=value2");
});

Deno.test("signRequest() signs the suite's post-sts-header-before with the session token header", async () => {
  const token = SUITE_STS_TOKEN;
  const signed = await signRequest(
    { method: "POST", url: "https://example.amazonaws.com/" },
    {
      credentials: { ...SUITE_CREDENTIALS, sessionToken: token },
      region: "us-east-1",
      service: "service",
      date: new Date("2015-08-30T12:36:00Z"),
    },
  );
  assert.equal(signed.headers.get("x-amz-security-token"), token);
  assert.equal(signed.signedHeaders, "host;x-amz-date;x-amz-security-token");
  assert.equal(
    signed.signature,
    "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  );
});

const S3_CREDENTIALS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

Deno.test("signRequest() follows the S3 rules: the documented GET Object example", async () => {
  const signed = await signRequest(
    {
      method: "GET",
      url: "https://examplebucket.s3.amazonaws.com/test.txt",
      headers: { Range: "bytes=0-9" },
    },
    {
      credentials: S3_CREDENTIALS,
      region: "us-east-1",
      service: "s3",
      date: new Date("2013-05-24T00:00:00Z"),
    },
  );
  assert.equal(
    signed.canonicalRequest,
    [
      "GET",
      "/test.txt",
      "",
      "host:examplebucket.s3.amazonaws.com",
      "range:bytes=0-9",
      `x-amz-content-sha256:${EMPTY_SHA256}`,
      "x-amz-date:20130524T000000Z",
      "",
      "host;range;x-amz-content-sha256;x-amz-date",
      EMPTY_SHA256,
    ].join("\n"),
  );
  assert.equal(
    signed.stringToSign,
    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" +
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
  );
  assert.equal(
    signed.signature,
    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
  assert.equal(signed.headers.get("x-amz-content-sha256"), EMPTY_SHA256);
});

Deno.test("presignUrl() gives the S3 documentation's presigned GET URL (UNSIGNED-PAYLOAD)", async () => {
  const out = await presignUrl(
    { method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt" },
    {
      credentials: S3_CREDENTIALS,
      region: "us-east-1",
      service: "s3",
      date: new Date("2013-05-24T00:00:00Z"),
      expiresIn: 86400,
    },
  );
  assert.ok(out.canonicalRequest.endsWith("\nhost\nUNSIGNED-PAYLOAD"));
  assert.equal(out.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  assert.equal(
    out.url,
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
  );
});

Deno.test("presignUrl() rejects an expiry past 7 days", async () => {
  await assert.rejects(
    presignUrl({ method: "GET", url: "https://b.s3.amazonaws.com/k" }, {
      credentials: S3_CREDENTIALS,
      region: "us-east-1",
      service: "s3",
      expiresIn: 604_801,
    }),
    RangeError,
  );
});

Deno.test("signRequest() encodes a non-S3 path twice and an S3 path once", async () => {
  const opts = { credentials: S3_CREDENTIALS, region: "eu-west-1", date: 0 };
  const url = "https://h.example.com/a b/c%2Fd/ሴ";
  const logs = await signRequest({ method: "GET", url }, { ...opts, service: "logs" });
  assert.equal(logs.canonicalRequest.split("\n")[1], "/a%2520b/c%252Fd/%25E1%2588%25B4");
  assert.equal(logs.url, "https://h.example.com/a%20b/c%2Fd/%E1%88%B4");
  const s3 = await signRequest({ method: "GET", url }, { ...opts, service: "s3" });
  assert.equal(s3.canonicalRequest.split("\n")[1], "/a%20b/c%2Fd/%E1%88%B4");
});

Deno.test("signRequest() signs UNSIGNED-PAYLOAD and refuses to hash a stream", async () => {
  const opts = { credentials: S3_CREDENTIALS, region: "eu-west-1", service: "s3", date: 0 };
  const body = new ReadableStream<Uint8Array>();
  await assert.rejects(signRequest({ method: "PUT", url: "https://h/k", body }, opts), TypeError);
  const signed = await signRequest(
    { method: "PUT", url: "https://h/k", body },
    { ...opts, unsignedPayload: true },
  );
  assert.equal(signed.headers.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  assert.ok(signed.canonicalRequest.endsWith("\nUNSIGNED-PAYLOAD"));
});

Deno.test("presignUrl() can append the session token after signing (IoT over WebSocket)", async () => {
  const credentials = { ...S3_CREDENTIALS, sessionToken: "tok+en/=" };
  const opts = {
    credentials,
    region: "eu-west-1",
    service: "iotdevicegateway",
    date: 0,
    expiresIn: 300,
  };
  const req = { method: "GET", url: "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt" };
  const after = await presignUrl(req, { ...opts, tokenAfterSignature: true });
  assert.doesNotMatch(after.canonicalRequest, /X-Amz-Security-Token/);
  assert.ok(after.url.endsWith("&X-Amz-Security-Token=tok%2Ben%2F%3D"));
  const signed = await presignUrl(req, opts);
  assert.match(signed.canonicalRequest, /X-Amz-Security-Token=tok%2Ben%2F%3D/);
  assert.notEqual(after.signature, signed.signature);
});
