import assert from "node:assert/strict";
import JSON5 from "json5";
import { Json5Error, parseJson5 } from "./json5.ts";

/** The error `text` gives, as [message, line, column]. */
function error(text: string): [string, number, number] {
  try {
    parseJson5(text);
  } catch (e) {
    assert.ok(e instanceof Json5Error, `expected a Json5Error, got ${e}`);
    return [e.message, e.lineNumber, e.columnNumber];
  }
  assert.fail(`expected ${JSON.stringify(text)} to be an error`);
}

Deno.test("objects, arrays, strings, numbers, true, false and null parse", () => {
  assert.deepStrictEqual(
    parseJson5(`{"a": [1, "two", true, false, null, {}, []], "b": {"c": -1.5e3}}`),
    { a: [1, "two", true, false, null, {}, []], b: { c: -1500 } },
  );
  assert.equal(parseJson5("true"), true);
  assert.equal(parseJson5("null"), null);
  assert.equal(parseJson5(`"s"`), "s");
  assert.deepStrictEqual(parseJson5("[ ]"), []);
  assert.deepStrictEqual(parseJson5("{ }"), {});
});

Deno.test("a Json5Error is a SyntaxError named Json5Error with a line and column", () => {
  try {
    parseJson5("[1,\n  }");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof SyntaxError);
    assert.ok(e instanceof Json5Error);
    assert.equal(e.name, "Json5Error");
    assert.equal(e.message, 'Invalid character "}"');
    assert.equal(e.lineNumber, 2);
    assert.equal(e.columnNumber, 3);
  }
});

Deno.test("one trailing comma is allowed in objects and arrays", () => {
  assert.deepStrictEqual(parseJson5("{a: 1, b: [1, 2,],}"), { a: 1, b: [1, 2] });
  assert.deepStrictEqual(parseJson5("[{},\n]"), [{}]);
});

Deno.test("a second trailing comma or a lone comma is an invalid character", () => {
  assert.deepStrictEqual(error("{a:1,,}"), ['Invalid character ","', 1, 6]);
  assert.deepStrictEqual(error("[1,,]"), ['Invalid character ","', 1, 4]);
  assert.deepStrictEqual(error("[,]"), ['Invalid character ","', 1, 2]);
  assert.deepStrictEqual(error("{,}"), ['Invalid character ","', 1, 2]);
  assert.deepStrictEqual(error("[1 2]"), ['Invalid character "2"', 1, 4]);
  assert.deepStrictEqual(error("{a 1}"), ['Invalid character "1"', 1, 4]);
});

Deno.test("line and block comments are skipped wherever whitespace may be", () => {
  const text = `// head
/* block
   comment */ { // after brace
  a /* before colon */ : /* before value */ 1, // after comma
  b: [ /**/ 2 /* x */, ], /* last */
} // tail`;
  assert.deepStrictEqual(parseJson5(text), { a: 1, b: [2] });
  assert.equal(parseJson5("1// no newline at the end"), 1);
  assert.equal(parseJson5("1/* a // b */"), 1);
  assert.equal(parseJson5("// a\r// b\u2028// c\u2029 7"), 7);
  assert.equal(parseJson5(`"// not a comment"`), "// not a comment");
});

Deno.test("an unterminated block comment or a lone slash is an error", () => {
  assert.deepStrictEqual(error("{a: 1 /* no end"), ["Unterminated comment", 1, 7]);
  assert.deepStrictEqual(error("1 /*/"), ["Unterminated comment", 1, 3]);
  assert.deepStrictEqual(error("[1, / 2]"), ['Invalid character "/"', 1, 5]);
  assert.deepStrictEqual(error("1 /"), ['Invalid character "/"', 1, 3]);
});

Deno.test("unquoted keys are identifier names, including Unicode letters and \\u escapes", () => {
  assert.deepStrictEqual(parseJson5("{a: 1, $b: 2, _c: 3, d9: 4, $: 5, _: 6}"), {
    a: 1,
    $b: 2,
    _c: 3,
    d9: 4,
    $: 5,
    _: 6,
  });
  assert.deepStrictEqual(parseJson5("{ĉu: 1, 日本: 2, ünïcödé: 3, 𝑥: 4, aǅ: 5}"), {
    ĉu: 1,
    日本: 2,
    ünïcödé: 3,
    𝑥: 4,
    aǅ: 5,
  });
  // Combining marks, ZWNJ and ZWJ are allowed after the first character.
  assert.deepStrictEqual(parseJson5("{a\u0301: 1, a\u200cb: 2, a\u200db: 3}"), {
    "a\u0301": 1,
    "a\u200cb": 2,
    "a\u200db": 3,
  });
  assert.deepStrictEqual(parseJson5("{\\u0061b: 1, c\\u0064: 2, \\u00e9: 3, \\u0024: 4}"), {
    ab: 1,
    cd: 2,
    é: 3,
    $: 4,
  });
  // Reserved words are identifier names too.
  assert.deepStrictEqual(parseJson5("{null: 1, true: 2, if: 3, class: 4, Infinity: 5}"), {
    null: 1,
    true: 2,
    if: 3,
    class: 4,
    Infinity: 5,
  });
});

Deno.test("a key that is not an identifier name is an error", () => {
  assert.deepStrictEqual(error("{1a: 1}"), ['Invalid character "1"', 1, 2]);
  assert.deepStrictEqual(error("{a-b: 1}"), ['Invalid character "-"', 1, 3]);
  assert.deepStrictEqual(error("{a b: 1}"), ['Invalid character "b"', 1, 4]);
  assert.deepStrictEqual(error("{\u0301a: 1}"), ['Invalid character "\u0301"', 1, 2]);
  assert.deepStrictEqual(error("{😀: 1}"), ['Invalid character "😀"', 1, 2]);
  assert.deepStrictEqual(error("{\\u0031a: 1}"), ['Invalid escape "\\u0031"', 1, 2]);
  assert.deepStrictEqual(error("{a\\u0020: 1}"), ['Invalid escape "\\u0020"', 1, 3]);
  assert.deepStrictEqual(error("{\\x61: 1}"), ['Invalid escape "\\x"', 1, 2]);
  assert.deepStrictEqual(error("{\\u00g1: 1}"), ['Invalid escape "\\u00"', 1, 2]);
  assert.deepStrictEqual(error("{: 1}"), ['Invalid character ":"', 1, 2]);
  assert.deepStrictEqual(error("{a: 1, b}"), ['Invalid character "}"', 1, 9]);
  assert.deepStrictEqual(error("{a"), ["Unexpected end of input", 1, 3]);
});

Deno.test("keys may be quoted with single or double quotes", () => {
  assert.deepStrictEqual(parseJson5(`{"a b": 1, 'c"d': 2, "": 3, '1': 4}`), {
    "a b": 1,
    'c"d': 2,
    "": 3,
    "1": 4,
  });
});

Deno.test("a duplicate key keeps the last value", () => {
  assert.deepStrictEqual(parseJson5("{a: 1, b: 2, a: 3}"), { a: 3, b: 2 });
});

Deno.test("strings may use single or double quotes, each containing the other", () => {
  assert.equal(parseJson5(`'say "hi"'`), 'say "hi"');
  assert.equal(parseJson5(`"it's"`), "it's");
  assert.equal(parseJson5(`''`), "");
  assert.equal(parseJson5(`"héllo 😀 \u0000"`), "héllo 😀 \u0000");
});

Deno.test("string escapes decode: single characters, \\0, \\x, \\u and surrogate pairs", () => {
  assert.equal(
    parseJson5(String.raw`"\' \" \\ \b \f \n \r \t \v \0 \/"`),
    `' " \\ \b \f \n \r \t \v \0 /`,
  );
  assert.equal(parseJson5(String.raw`'\'\"'`), `'"`);
  assert.equal(parseJson5(String.raw`"\0x"`), "\0x");
  assert.equal(parseJson5(String.raw`"\x41\x7a\xFF"`), "Az\xff");
  assert.equal(parseJson5(String.raw`"\u0041\u00e9\u2028\uFFFF"`), "Aé\u2028\uffff");
  assert.equal(parseJson5(String.raw`"\uD83D\uDE00"`), "😀");
  assert.equal(parseJson5(String.raw`"\uD83D"`), "\ud83d");
});

Deno.test("any other escaped character is itself", () => {
  assert.equal(parseJson5(String.raw`"\a\c\q\z\$\ \é"`), "acqz$ é");
  assert.equal(parseJson5('"\\😀"'), "😀");
});

Deno.test("a backslash before LF, CR, CRLF, U+2028 or U+2029 continues the line", () => {
  assert.equal(parseJson5("'a\\\nb\\\rc\\\r\nd\\\u2028e\\\u2029f'"), "abcdef");
});

Deno.test("U+2028 and U+2029 may appear unescaped in a string", () => {
  assert.equal(parseJson5('"a\u2028b\u2029c"'), "a\u2028b\u2029c");
});

Deno.test("a bad escape is an error naming the escape", () => {
  assert.deepStrictEqual(error(String.raw`"\x4"`), ['Invalid escape "\\x4"', 1, 2]);
  assert.deepStrictEqual(error(String.raw`"ab\xg0"`), ['Invalid escape "\\x"', 1, 4]);
  assert.deepStrictEqual(error(String.raw`"\u12"`), ['Invalid escape "\\u12"', 1, 2]);
  assert.deepStrictEqual(error(String.raw`"\01"`), ['Invalid escape "\\01"', 1, 2]);
  assert.deepStrictEqual(error(String.raw`"\1"`), ['Invalid escape "\\1"', 1, 2]);
  assert.deepStrictEqual(error(String.raw`'\9'`), ['Invalid escape "\\9"', 1, 2]);
});

Deno.test("an unescaped line break or the end of input in a string is an unterminated string", () => {
  assert.deepStrictEqual(error('{a: "one\ntwo"}'), ["Unterminated string", 1, 5]);
  assert.deepStrictEqual(error("[\n 'one\rtwo']"), ["Unterminated string", 2, 2]);
  assert.deepStrictEqual(error('"abc'), ["Unterminated string", 1, 1]);
  assert.deepStrictEqual(error("'abc\""), ["Unterminated string", 1, 1]);
  assert.deepStrictEqual(error('"abc\\'), ["Unterminated string", 1, 1]);
});

Deno.test("numbers: JSON forms, leading or trailing point, plus sign, hex, Infinity and NaN", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["-0", -0],
    ["+0", 0],
    ["123", 123],
    ["-1.25", -1.25],
    ["1e3", 1000],
    ["1E+3", 1000],
    ["25e-2", 0.25],
    [".5", 0.5],
    ["-.5", -0.5],
    ["+.5e1", 5],
    ["5.", 5],
    ["5.e2", 500],
    ["0.0", 0],
    ["0e0", 0],
    ["+1", 1],
    ["0x1F", 31],
    ["0X1f", 31],
    ["-0xff", -255],
    ["+0xA", 10],
    ["0x0", 0],
    ["0xFFFFFFFFFFFF", 0xffffffffffff],
    ["Infinity", Infinity],
    ["+Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["NaN", NaN],
    ["-NaN", NaN],
    ["+NaN", NaN],
    ["1e400", Infinity],
    ["9007199254740993", 9007199254740992],
  ];
  for (const [text, value] of cases) assert.deepStrictEqual(parseJson5(text), value, text);
  assert.deepStrictEqual(parseJson5("[1,-2,+3,.4,5.,0x6,]"), [1, -2, 3, 0.4, 5, 6]);
});

Deno.test("bad numbers, including leading zeros, are errors", () => {
  assert.deepStrictEqual(error("01"), ['Invalid character "1"', 1, 2]);
  assert.deepStrictEqual(error("-007"), ['Invalid character "0"', 1, 3]);
  assert.deepStrictEqual(error("[00.5]"), ['Invalid character "0"', 1, 3]);
  assert.deepStrictEqual(error("0x"), ["Unexpected end of input", 1, 3]);
  assert.deepStrictEqual(error("0xg"), ['Invalid character "g"', 1, 3]);
  assert.deepStrictEqual(error("1e"), ["Unexpected end of input", 1, 3]);
  assert.deepStrictEqual(error("1e+"), ["Unexpected end of input", 1, 4]);
  assert.deepStrictEqual(error("1ex"), ['Invalid character "x"', 1, 3]);
  assert.deepStrictEqual(error("."), ["Unexpected end of input", 1, 2]);
  assert.deepStrictEqual(error(".e1"), ['Invalid character "e"', 1, 2]);
  assert.deepStrictEqual(error("+"), ["Unexpected end of input", 1, 2]);
  assert.deepStrictEqual(error("--1"), ['Invalid character "-"', 1, 2]);
  assert.deepStrictEqual(error("1.2.3"), ['Invalid character "."', 1, 4]);
  assert.deepStrictEqual(error("0x1.5"), ['Invalid character "."', 1, 4]);
  assert.deepStrictEqual(error("Infinit"), ["Unexpected end of input", 1, 8]);
  assert.deepStrictEqual(error("-Inf"), ["Unexpected end of input", 1, 5]);
  assert.deepStrictEqual(error("nan"), ['Invalid character "a"', 1, 2]);
  assert.deepStrictEqual(error("infinity"), ['Invalid character "i"', 1, 1]);
  assert.deepStrictEqual(error("1_000"), ['Invalid character "_"', 1, 2]);
});

Deno.test("whitespace includes \\v, \\f, NBSP, BOM, Unicode Zs and line/paragraph separators", () => {
  const spaces = "\t\n\v\f\r \u00a0\ufeff\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" +
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
  assert.deepStrictEqual(
    parseJson5(
      `${spaces}{${spaces}a${spaces}:${spaces}[${spaces}1${spaces},${spaces}]${spaces}}${spaces}`,
    ),
    {
      a: [1],
    },
  );
  // Zero-width space (U+200B) and NEL (U+0085) are not whitespace.
  assert.deepStrictEqual(error("1\u200b"), ['Invalid character "\u200b"', 1, 2]);
  assert.deepStrictEqual(error("\u0085 1"), ['Invalid character "\u0085"', 1, 1]);
});

Deno.test("empty input or only whitespace and comments is an unexpected end of input", () => {
  assert.deepStrictEqual(error(""), ["Unexpected end of input", 1, 1]);
  assert.deepStrictEqual(error("  \n "), ["Unexpected end of input", 2, 2]);
  assert.deepStrictEqual(error("// just a comment"), ["Unexpected end of input", 1, 18]);
  assert.deepStrictEqual(error("/* a */\n/* b */"), ["Unexpected end of input", 2, 8]);
});

Deno.test("anything but whitespace and comments after the top value is an error", () => {
  assert.deepStrictEqual(error("{} {}"), ['Invalid character "{"', 1, 4]);
  assert.deepStrictEqual(error("1 2"), ['Invalid character "2"', 1, 3]);
  assert.deepStrictEqual(error("[1]]"), ['Invalid character "]"', 1, 4]);
  assert.deepStrictEqual(error("truex"), ['Invalid character "x"', 1, 5]);
  assert.deepStrictEqual(error("nul"), ["Unexpected end of input", 1, 4]);
  assert.deepStrictEqual(error("tru e"), ['Invalid character " "', 1, 4]);
  assert.deepStrictEqual(error("undefined"), ['Invalid character "u"', 1, 1]);
  assert.deepStrictEqual(error("{a: 1} // ok\n x"), ['Invalid character "x"', 2, 2]);
  assert.deepStrictEqual(parseJson5("{a: 1} // ok\n /* ok */ "), { a: 1 });
});

Deno.test("__proto__ becomes an ordinary own property and never changes the prototype", () => {
  const obj = parseJson5(`{"__proto__": {"polluted": true}, a: {__proto__: [1]}, b: 2}`) as Record<
    string,
    unknown
  >;
  assert.equal(Object.getPrototypeOf(obj), Object.prototype);
  assert.ok(Object.hasOwn(obj, "__proto__"));
  assert.deepStrictEqual(Object.keys(obj), ["__proto__", "a", "b"]);
  assert.deepStrictEqual(Object.getOwnPropertyDescriptor(obj, "__proto__"), {
    value: { polluted: true },
    writable: true,
    enumerable: true,
    configurable: true,
  });
  assert.equal((obj as { polluted?: boolean }).polluted, undefined);
  const a = obj.a as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
  assert.ok(Object.hasOwn(a, "__proto__"));
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  // A duplicate __proto__ keeps the last value, like any other key.
  const dup = parseJson5("{__proto__: 1, __proto__: 2}") as Record<string, unknown>;
  assert.equal(Object.getOwnPropertyDescriptor(dup, "__proto__")?.value, 2);
  assert.equal(Object.getPrototypeOf(dup), Object.prototype);
  // Keys named like Object.prototype members are plain own properties too.
  const names = parseJson5("{constructor: 1, toString: 2, hasOwnProperty: 3}");
  assert.deepStrictEqual(names, { constructor: 1, toString: 2, hasOwnProperty: 3 });
  assert.equal(Object.getPrototypeOf(names), Object.prototype);
});

Deno.test("parsed objects and arrays are ordinary objects and arrays", () => {
  const value = parseJson5("{a: [{b: {}}]}") as { a: [{ b: object }] };
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.ok(Array.isArray(value.a));
  assert.equal(Object.getPrototypeOf(value.a), Array.prototype);
  assert.equal(Object.getPrototypeOf(value.a[0].b), Object.prototype);
});

Deno.test("nesting up to 1000 deep parses; deeper is an error, not a stack overflow", () => {
  const ok = "[".repeat(1000) + "]".repeat(1000);
  let value = parseJson5(ok);
  for (let depth = 1; depth < 1000; depth++) value = (value as unknown[])[0];
  assert.deepStrictEqual(value, []);
  assert.deepStrictEqual(
    error("[".repeat(1001) + "]".repeat(1001)),
    ["Nesting deeper than 1000", 1, 1001],
  );
  assert.deepStrictEqual(error("{a:".repeat(1000) + "{}" + "}".repeat(1000)), [
    "Nesting deeper than 1000",
    1,
    3001,
  ]);
  assert.deepStrictEqual(error("[{a:".repeat(500) + "[]"), ["Nesting deeper than 1000", 1, 2001]);
  assert.deepStrictEqual(error("[".repeat(1_000_000)), ["Nesting deeper than 1000", 1, 1001]);
});

Deno.test("lines split on LF, CR, CRLF, U+2028 and U+2029", () => {
  assert.deepStrictEqual(error("[\n1,\n  x]"), ['Invalid character "x"', 3, 3]);
  assert.deepStrictEqual(error("[\r1,\r  x]"), ['Invalid character "x"', 3, 3]);
  assert.deepStrictEqual(error("[\r\n1,\r\n  x]"), ['Invalid character "x"', 3, 3]);
  assert.deepStrictEqual(error("[\u20281,\u2029  x]"), ['Invalid character "x"', 3, 3]);
  assert.deepStrictEqual(error("[\n\r\n\r\u2028\u2029x]"), ['Invalid character "x"', 6, 1]);
  assert.deepStrictEqual(error("// c\r\n/* a\r\nb */ ]"), ['Invalid character "]"', 3, 6]);
});

Deno.test("columns count UTF-16 code units from 1", () => {
  assert.deepStrictEqual(error("x"), ['Invalid character "x"', 1, 1]);
  assert.deepStrictEqual(error("['😀', x]"), ['Invalid character "x"', 1, 8]);
  assert.deepStrictEqual(error("{é: 1,\n  '日本😀': 2 x}"), ['Invalid character "x"', 2, 13]);
  assert.deepStrictEqual(error("[1,\t\tx]"), ['Invalid character "x"', 1, 6]);
});

Deno.test("a config file like tern.json5 parses", () => {
  const text = `// Tern config
{
  agent: {
    mode: 'local',   // or 'cloud'
    stopTimeout: 10, /* seconds */
  },
  web: {
    enabled: true,
    listen: ["http://127.0.0.1:8080",],
  },
  mqtt: { enabled: false, keepalive: +60, qos: 0x1 },
}
`;
  assert.deepStrictEqual(parseJson5(text), {
    agent: { mode: "local", stopTimeout: 10 },
    web: { enabled: true, listen: ["http://127.0.0.1:8080"] },
    mqtt: { enabled: false, keepalive: 60, qos: 1 },
  });
});

const DIFFERENTIAL = [
  "{}",
  "[]",
  "null",
  "true",
  "false",
  "0",
  "-0",
  "+1",
  ".5",
  "5.",
  "-.5e-3",
  "1E+10",
  "0x1F",
  "-0xff",
  "+0XaB",
  "Infinity",
  "-Infinity",
  "+Infinity",
  "NaN",
  "-NaN",
  "[NaN, -0, 0, 1e-7, 123456789012345678901234567890]",
  `"double"`,
  `'single'`,
  `'mixed "quotes"'`,
  String.raw`"\b\f\n\r\t\v\0\'\"\\\/\a\x41\u00e9\uD83D\uDE00"`,
  "'line\\\ncontinued\\\r\nhere\\\u2028too'",
  "'a\u2028b\u2029c'",
  "{a: 1, b: 2, a: 3}",
  "{$a: 1, _b: 2, c3: 3, ĉ: 4, 日本: 5, \\u0061z: 6}",
  "{null: 1, true: 2, if: 3}",
  `{'single': 1, "double": 2, "": 3}`,
  "{__proto__: {x: 1}, y: 2}",
  `{"__proto__": [1, 2]}`,
  "{toString: 1, constructor: 2, valueOf: 3}",
  "{'2': 'two', '1': 'one', b: 'b', a: 'a'}",
  "[1, [2, [3, [4, []]]], {a: {b: {c: {}}}}]",
  "[1, 2, 3,]",
  "{a: 1, b: [2,],}",
  "// c\n{/* c */a/* c */:/* c */1/* c */,/* c */}// c",
  "\t\v\f \u00a0\ufeff\u2000\u3000\u2028\u2029[1]\n",
  `{
    // comments
    unquoted: 'and you can quote me on that',
    singleQuotes: 'I can use "double quotes" here',
    lineBreaks: "Look, Mom! \\
No \\\\n's!",
    hexadecimal: 0xdecaf,
    leadingDecimalPoint: .8675309, andTrailing: 8675309.,
    positiveSign: +1,
    trailingComma: 'in objects', andIn: ['arrays',],
    "backwardsCompatible": "with JSON",
  }`,
];

Deno.test("valid JSON5 parses the same as the json5 npm package", () => {
  assert.ok(DIFFERENTIAL.length >= 40);
  const warn = console.warn; // the package warns about unescaped U+2028 and U+2029
  console.warn = () => {};
  try {
    for (const text of DIFFERENTIAL) {
      // deepStrictEqual compares with Object.is: NaN equals NaN, -0 differs from 0.
      assert.deepStrictEqual(parseJson5(text), JSON5.parse(text), text);
    }
  } finally {
    console.warn = warn;
  }
});

Deno.test("inputs the json5 npm package rejects are rejected too", () => {
  const invalid = [
    "",
    "// only",
    "[1,,]",
    "{a:1,,}",
    "01",
    "0x",
    "1e",
    "'a\nb'",
    '"abc',
    "/* open",
    "{1: 1}",
    "{a-b: 1}",
    "[1] 2",
    "undefined",
    String.raw`"\x4"`,
    String.raw`"\01"`,
    String.raw`"\1"`,
  ];
  for (const text of invalid) {
    assert.throws(() => JSON5.parse(text), SyntaxError, text);
    assert.throws(() => parseJson5(text), Json5Error, text);
  }
});

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random JSON value: nested objects and arrays, Unicode strings, numbers. */
function generate(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 4 ? 5 : 7));
  const chars = "ab Z09\"\\/\n\t\u0000\u001f\u007féñ日本😀\u2028\u2029\ud800'";
  const str = () => {
    let s = "";
    for (let n = Math.floor(rand() * 12); n > 0; n--) s += chars[Math.floor(rand() * chars.length)];
    return s;
  };
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return [0, -0, 1, -1, 1e21, 1e-7, 0.1, 2 ** 53, -123.456e-300][Math.floor(rand() * 9)];
    case 3:
      return (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
    case 4:
      return str();
    case 5:
      return Array.from({ length: Math.floor(rand() * 5) }, () => generate(rand, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (let n = Math.floor(rand() * 5); n > 0; n--) obj[str()] = generate(rand, depth + 1);
      return obj;
    }
  }
}

Deno.test("plain JSON parses exactly like JSON.parse", () => {
  const rand = random(42);
  for (let n = 0; n < 300; n++) {
    const value = generate(rand, 0);
    const text = n % 2 ? JSON.stringify(value) : JSON.stringify(value, null, 2);
    assert.deepStrictEqual(parseJson5(text), JSON.parse(text), text);
  }
  const fixed = `{"id": 7, "tags": ["a", "b"], "nested": [[1, [2, [3]]], {"x": -0.5e-2}],
    "text": "caf\\u00e9 \\ud83d\\ude00 日本 \\"q\\" \\\\ \\/", "empty": {}, "none": null,
    "big": 1.7976931348623157e308, "small": 5e-324, "neg": -0, "bools": [true, false]}`;
  assert.deepStrictEqual(parseJson5(fixed), JSON.parse(fixed));
});

Deno.test("a long string with few escapes parses quickly", () => {
  const long = "x".repeat(1_000_000);
  const text = JSON.stringify({ long, escaped: `${long}\n${long}` });
  const start = performance.now();
  const value = parseJson5(text) as { long: string; escaped: string };
  assert.equal(value.long, long);
  assert.equal(value.escaped.length, 2_000_001);
  assert.ok(performance.now() - start < 1000);
});
