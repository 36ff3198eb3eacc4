/**
 * A JSON5 parser for the config files (tern.json5, schema.json5, ...), so the
 * agent needs no npm package for them. It implements the full JSON5 1.0 spec
 * (https://spec.json5.org): comments, trailing commas, unquoted keys, single-
 * quoted strings, hex/Infinity/NaN numbers and the wider whitespace set.
 * It is a small recursive-descent parser that scans the string by index.
 *
 * @module
 */

import { setOwn } from "../own.ts";

/** Nesting deeper than this is an error (instead of a stack overflow). */
const MAX_DEPTH = 1000;

/** A syntax error, with the 1-based line and column (UTF-16 code units) where it was found. */
export class Json5Error extends SyntaxError {
  override name = "Json5Error";
  constructor(message: string, readonly lineNumber: number, readonly columnNumber: number) {
    super(message);
  }
}

/** Parse JSON5 `text`. Throws a {@link Json5Error} if it is not valid JSON5. */
export function parseJson5(text: string): unknown {
  return new Parser(text).parse();
}

const LF = 0x0a, CR = 0x0d, LS = 0x2028, PS = 0x2029;
const ID_START = /\p{ID_Start}/u;
const ID_CONTINUE = /\p{ID_Continue}/u;

function isLineBreak(c: number): boolean {
  return c === LF || c === CR || c === LS || c === PS;
}

function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return c === 0xa0 || c === 0xfeff || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === LS || c === PS || c === 0x202f || c === 0x205f || c === 0x3000;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (isDigit(c)) return c - 0x30;
  const l = c | 0x20; // lower case
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

function isIdStart(cp: number): boolean {
  if (cp < 0x80) return ((cp | 0x20) >= 0x61 && (cp | 0x20) <= 0x7a) || cp === 0x24 || cp === 0x5f;
  return ID_START.test(String.fromCodePoint(cp));
}

function isIdPart(cp: number): boolean {
  if (cp < 0x80) return isIdStart(cp) || isDigit(cp);
  return cp === 0x200c || cp === 0x200d || ID_CONTINUE.test(String.fromCodePoint(cp));
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  parse(): unknown {
    this.skipSpace();
    const value = this.value(0);
    this.skipSpace();
    if (this.i < this.s.length) this.unexpected();
    return value;
  }

  /** Throw a {@link Json5Error} located at index `at`. */
  fail(message: string, at: number = this.i): never {
    let line = 1, lineStart = 0;
    for (let k = 0; k < at; k++) {
      const c = this.s.charCodeAt(k);
      if (c === CR && this.s.charCodeAt(k + 1) === LF && k + 1 < at) k++;
      if (isLineBreak(c)) line++, lineStart = k + 1;
    }
    throw new Json5Error(message, line, at - lineStart + 1);
  }

  /** Fail on the character at the current index (or the end of input). */
  unexpected(): never {
    if (this.i >= this.s.length) this.fail("Unexpected end of input");
    const ch = String.fromCodePoint(this.s.codePointAt(this.i)!);
    this.fail(`Invalid character ${JSON.stringify(ch)}`);
  }

  skipSpace(): void {
    const s = this.s, n = s.length;
    while (this.i < n) {
      const c = s.charCodeAt(this.i);
      if (isSpace(c)) this.i++;
      else if (c !== 0x2f) return; // not "/"
      else if (s.charCodeAt(this.i + 1) === 0x2f) { // "//": to end of line
        this.i += 2;
        while (this.i < n && !isLineBreak(s.charCodeAt(this.i))) this.i++;
      } else if (s.charCodeAt(this.i + 1) === 0x2a) { // "/*"
        const end = s.indexOf("*/", this.i + 2);
        if (end < 0) this.fail("Unterminated comment");
        this.i = end + 2;
      } else this.unexpected();
    }
  }

  value(depth: number): unknown {
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (depth >= MAX_DEPTH) this.fail(`Nesting deeper than ${MAX_DEPTH}`);
        return c === 0x7b ? this.object(depth + 1) : this.array(depth + 1);
      case 0x22: // "
      case 0x27: // '
        return this.string();
      case 0x74: // t
        return this.word("true", true);
      case 0x66: // f
        return this.word("false", false);
      case 0x6e: // n
        return this.word("null", null);
      default:
        return this.number();
    }
  }

  /** Expect the literal `w` at the current index and return `v`. */
  word<T>(w: string, v: T): T {
    for (let k = 0; k < w.length; k++, this.i++) {
      if (this.s.charCodeAt(this.i) !== w.charCodeAt(k)) this.unexpected();
    }
    return v;
  }

  object(depth: number): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    this.i++; // {
    this.skipSpace();
    if (this.s.charCodeAt(this.i) === 0x7d) return this.i++, obj;
    for (;;) {
      const key = this.key();
      this.skipSpace();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.unexpected(); // :
      this.i++;
      this.skipSpace();
      const value = this.value(depth);
      setOwn(obj, key, value);
      if (this.closes(0x7d)) return obj;
    }
  }

  array(depth: number): unknown[] {
    const arr: unknown[] = [];
    this.i++; // [
    this.skipSpace();
    if (this.s.charCodeAt(this.i) === 0x5d) return this.i++, arr;
    for (;;) {
      arr.push(this.value(depth));
      if (this.closes(0x5d)) return arr;
    }
  }

  /**
   * After a member: true when the container ends here (`close`, after at most
   * one trailing comma), false when another member follows a comma.
   */
  closes(close: number): boolean {
    this.skipSpace();
    let c = this.s.charCodeAt(this.i);
    if (c === 0x2c) { // ,
      this.i++;
      this.skipSpace();
      c = this.s.charCodeAt(this.i);
      if (c !== close) return false;
    }
    if (c !== close) this.unexpected();
    this.i++;
    return true;
  }

  key(): string {
    const c = this.s.charCodeAt(this.i);
    if (c === 0x22 || c === 0x27) return this.string();
    const s = this.s;
    let out = "", run = this.i, first = true;
    for (;;) {
      const cp = s.codePointAt(this.i) ?? -1;
      if (cp === 0x5c) { // \uXXXX
        const at = this.i;
        out += s.slice(run, at);
        if (s.charCodeAt(at + 1) !== 0x75) this.fail(`Invalid escape "${s.slice(at, at + 2)}"`, at);
        this.i += 2;
        const u = this.hex(4, at);
        if (!(first ? isIdStart(u) : isIdPart(u))) {
          this.fail(`Invalid escape "${s.slice(at, this.i)}"`, at);
        }
        out += String.fromCharCode(u);
        run = this.i;
      } else if (first ? isIdStart(cp) : isIdPart(cp)) {
        this.i += cp > 0xffff ? 2 : 1;
      } else if (first) {
        this.unexpected();
      } else return out + s.slice(run, this.i);
      first = false;
    }
  }

  /** Read `n` hex digits of an escape that started at `at`; return their value. */
  hex(n: number, at: number): number {
    let v = 0;
    const end = this.i + n;
    for (; this.i < end; this.i++) {
      const d = hexValue(this.s.charCodeAt(this.i));
      if (d < 0) this.fail(`Invalid escape "${this.s.slice(at, this.i)}"`, at);
      v = v * 16 + d;
    }
    return v;
  }

  string(): string {
    const s = this.s, n = s.length, start = this.i, quote = s.charCodeAt(start);
    let out = "", run = ++this.i;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === quote) {
        out += s.slice(run, this.i++);
        return out;
      }
      if (this.i >= n || c === LF || c === CR) this.fail("Unterminated string", start);
      if (c === 0x5c) { // backslash
        out += s.slice(run, this.i);
        if (this.i + 1 >= n) this.fail("Unterminated string", start);
        out += this.escape();
        run = this.i;
      } else this.i++;
    }
  }

  /** Decode the escape at the current index (a backslash, not at the end of input). */
  escape(): string {
    const s = this.s, at = this.i, c = s.charCodeAt(at + 1);
    this.i += 2;
    const single = "bfnrtv".indexOf(s[at + 1]!);
    if (single >= 0) return "\b\f\n\r\t\v"[single]!;
    if (c === 0x78) return String.fromCharCode(this.hex(2, at)); // \xHH
    if (c === 0x75) return String.fromCharCode(this.hex(4, at)); // \uXXXX
    if (c === LF || c === LS || c === PS) return ""; // line continuation
    if (c === CR) {
      if (s.charCodeAt(this.i) === LF) this.i++;
      return "";
    }
    if (c === 0x30 && !isDigit(s.charCodeAt(this.i))) return "\0";
    if (isDigit(c)) this.fail(`Invalid escape "${s.slice(at, c === 0x30 ? at + 3 : at + 2)}"`, at);
    return s[at + 1]!; // any other character is itself
  }

  number(): number {
    const s = this.s, start = this.i;
    let c = s.charCodeAt(this.i), sign = 1;
    if (c === 0x2b || c === 0x2d) { // + -
      if (c === 0x2d) sign = -1;
      c = s.charCodeAt(++this.i);
    }
    if (c === 0x49) return sign * this.word("Infinity", Infinity); // I
    if (c === 0x4e) return this.word("NaN", NaN); // N
    if (c === 0x30 && (s.charCodeAt(this.i + 1) | 0x20) === 0x78) { // 0x
      const from = (this.i += 2);
      while (hexValue(s.charCodeAt(this.i)) >= 0) this.i++;
      if (this.i === from) this.unexpected();
      return sign * parseInt(s.slice(from, this.i), 16);
    }
    const intStart = this.i;
    while (isDigit(s.charCodeAt(this.i))) this.i++;
    let digits = this.i - intStart;
    if (digits > 1 && c === 0x30) this.i = intStart + 1, this.unexpected(); // leading zero
    if (s.charCodeAt(this.i) === 0x2e) { // .
      const fracStart = ++this.i;
      while (isDigit(s.charCodeAt(this.i))) this.i++;
      digits += this.i - fracStart;
    }
    if (digits === 0) this.unexpected();
    if ((s.charCodeAt(this.i) | 0x20) === 0x65) { // e E
      c = s.charCodeAt(++this.i);
      if (c === 0x2b || c === 0x2d) this.i++;
      const expStart = this.i;
      while (isDigit(s.charCodeAt(this.i))) this.i++;
      if (this.i === expStart) this.unexpected();
    }
    return Number(s.slice(start, this.i));
  }
}
