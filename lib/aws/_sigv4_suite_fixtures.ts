/**
 * Cases of the public AWS SigV4 test suite (aws-sig-v4-test-suite, 2015
 * edition), transcribed as data: the request, its canonical request (.creq),
 * the hash inside its string to sign (.sts) where noted, and the signature
 * from its Authorization header (.authz). All cases use the suite's
 * credentials, region us-east-1, service "service" and 20150830T123600Z.
 */

export const SUITE_CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
export const SUITE_DATE = "20150830T123600Z";

const HOST = "example.amazonaws.com";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const SUITE_STS_TOKEN =
  "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

export interface SuiteCase {
  name: string;
  method: string;
  /** Path as on the suite's request line. */
  path: string;
  query?: [string, string][];
  headers: Record<string, string> | [string, string][];
  body?: string;
  canonicalRequest: string;
  signedHeaders: string;
  /** The canonical request hash published in the case's .sts file. */
  stringToSignHash?: string;
  signature: string;
}

const base = { host: HOST, "x-amz-date": SUITE_DATE };
const creq = (lines: string[]) => lines.join("\n");
const vanillaHeaders = [`host:${HOST}`, `x-amz-date:${SUITE_DATE}`, ""];

export const SUITE_CASES: SuiteCase[] = [
  {
    name: "get-vanilla",
    method: "GET",
    path: "/",
    headers: base,
    canonicalRequest: creq(["GET", "/", "", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    stringToSignHash: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
    signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-query-order-key-case",
    method: "GET",
    path: "/",
    query: [["Param2", "value2"], ["Param1", "value1"]],
    headers: base,
    canonicalRequest: creq([
      "GET",
      "/",
      "Param1=value1&Param2=value2",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    stringToSignHash: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
    signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    name: "get-vanilla-empty-query-key",
    method: "GET",
    path: "/",
    query: [["Param1", "value1"]],
    headers: base,
    canonicalRequest: creq([
      "GET",
      "/",
      "Param1=value1",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
  },
  {
    name: "get-vanilla-query-unreserved",
    method: "GET",
    path: "/",
    query: [[
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    ]],
    headers: base,
    canonicalRequest: creq([
      "GET",
      "/",
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=" +
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
  },
  {
    name: "get-vanilla-utf8-query",
    method: "GET",
    path: "/",
    query: [["ሴ", "bar"]],
    headers: base,
    canonicalRequest: creq([
      "GET",
      "/",
      "%E1%88%B4=bar",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
  },
  {
    name: "get-unreserved",
    method: "GET",
    path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    headers: base,
    canonicalRequest: creq([
      "GET",
      "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      "",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
  },
  {
    name: "get-utf8",
    method: "GET",
    path: "/ሴ",
    headers: base,
    canonicalRequest: creq(["GET", "/%E1%88%B4", "", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
  },
  {
    name: "normalize-path/get-slashes",
    method: "GET",
    path: "//example//",
    headers: base,
    canonicalRequest: creq(["GET", "/example/", "", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
  },
  {
    name: "normalize-path/get-relative-relative",
    method: "GET",
    path: "/example1/example2/../..",
    headers: base,
    canonicalRequest: creq(["GET", "/", "", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-header-value-trim",
    method: "GET",
    path: "/",
    headers: { ...base, "My-Header1": " value1", "My-Header2": ' "a   b   c"' },
    canonicalRequest: creq([
      "GET",
      "/",
      "",
      `host:${HOST}`,
      "my-header1:value1",
      'my-header2:"a b c"',
      `x-amz-date:${SUITE_DATE}`,
      "",
      "host;my-header1;my-header2;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;my-header1;my-header2;x-amz-date",
    signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
  },
  {
    name: "get-header-key-duplicate",
    method: "GET",
    path: "/",
    headers: [
      ["Host", HOST],
      ["My-Header1", "value2"],
      ["My-Header1", "value2"],
      ["My-Header1", "value1"],
      ["X-Amz-Date", SUITE_DATE],
    ],
    canonicalRequest: creq([
      "GET",
      "/",
      "",
      `host:${HOST}`,
      "my-header1:value2,value2,value1",
      `x-amz-date:${SUITE_DATE}`,
      "",
      "host;my-header1;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;my-header1;x-amz-date",
    signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
  },
  {
    name: "get-header-value-order",
    method: "GET",
    path: "/",
    headers: [
      ["Host", HOST],
      ["My-Header1", "value4"],
      ["My-Header1", "value1"],
      ["My-Header1", "value3"],
      ["My-Header1", "value2"],
      ["X-Amz-Date", SUITE_DATE],
    ],
    canonicalRequest: creq([
      "GET",
      "/",
      "",
      `host:${HOST}`,
      "my-header1:value4,value1,value3,value2",
      `x-amz-date:${SUITE_DATE}`,
      "",
      "host;my-header1;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;my-header1;x-amz-date",
    signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
  },
  {
    name: "post-vanilla",
    method: "POST",
    path: "/",
    headers: base,
    canonicalRequest: creq(["POST", "/", "", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "post-header-key-sort",
    method: "POST",
    path: "/",
    headers: { ...base, "My-Header1": "value1" },
    canonicalRequest: creq([
      "POST",
      "/",
      "",
      `host:${HOST}`,
      "my-header1:value1",
      `x-amz-date:${SUITE_DATE}`,
      "",
      "host;my-header1;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;my-header1;x-amz-date",
    signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
  },
  {
    name: "post-header-value-case",
    method: "POST",
    path: "/",
    headers: { ...base, "My-Header1": "VALUE1" },
    canonicalRequest: creq([
      "POST",
      "/",
      "",
      `host:${HOST}`,
      "my-header1:VALUE1",
      `x-amz-date:${SUITE_DATE}`,
      "",
      "host;my-header1;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;my-header1;x-amz-date",
    signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
  },
  {
    name: "post-vanilla-query",
    method: "POST",
    path: "/",
    query: [["Param1", "value1"]],
    headers: base,
    canonicalRequest: creq([
      "POST",
      "/",
      "Param1=value1",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
  },
  {
    name: "post-vanilla-query-space",
    method: "POST",
    path: "/",
    query: [["p", ""]],
    headers: base,
    canonicalRequest: creq(["POST", "/", "p=", ...vanillaHeaders, "host;x-amz-date", EMPTY]),
    signedHeaders: "host;x-amz-date",
    signature: "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b",
  },
  {
    name: "post-vanilla-query-nonunreserved",
    method: "POST",
    path: "/",
    query: [["@#$%^", ""], ["+", '/,?><`";:\\|][{}']],
    headers: base,
    canonicalRequest: creq([
      "POST",
      "/",
      "%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D&%40%23%24%25%5E=",
      ...vanillaHeaders,
      "host;x-amz-date",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date",
    signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
  },
  {
    name: "post-x-www-form-urlencoded",
    method: "POST",
    path: "/",
    headers: { ...base, "Content-Type": "application/x-www-form-urlencoded" },
    body: "Param1=value1",
    canonicalRequest: creq([
      "POST",
      "/",
      "",
      "content-type:application/x-www-form-urlencoded",
      `host:${HOST}`,
      `x-amz-date:${SUITE_DATE}`,
      "",
      "content-type;host;x-amz-date",
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    ]),
    signedHeaders: "content-type;host;x-amz-date",
    stringToSignHash: "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
    signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-x-www-form-urlencoded-parameters",
    method: "POST",
    path: "/",
    headers: { ...base, "Content-Type": "application/x-www-form-urlencoded; charset=utf8" },
    body: "Param1=value1",
    canonicalRequest: creq([
      "POST",
      "/",
      "",
      "content-type:application/x-www-form-urlencoded; charset=utf8",
      `host:${HOST}`,
      `x-amz-date:${SUITE_DATE}`,
      "",
      "content-type;host;x-amz-date",
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    ]),
    signedHeaders: "content-type;host;x-amz-date",
    signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
  },
  {
    name: "post-sts-header-before",
    method: "POST",
    path: "/",
    headers: { ...base, "X-Amz-Security-Token": SUITE_STS_TOKEN },
    canonicalRequest: creq([
      "POST",
      "/",
      "",
      `host:${HOST}`,
      `x-amz-date:${SUITE_DATE}`,
      `x-amz-security-token:${SUITE_STS_TOKEN}`,
      "",
      "host;x-amz-date;x-amz-security-token",
      EMPTY,
    ]),
    signedHeaders: "host;x-amz-date;x-amz-security-token",
    stringToSignHash: "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
    signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  },
];
