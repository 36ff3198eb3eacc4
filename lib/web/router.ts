/**
 * A router on a segment trie: `route(method, pattern, value)` and
 * `match(method, path)`. Matching walks the path's segments once (static
 * children by Map lookup, then one `:param` child, then a `*` tail), so the
 * cost does not grow with the number of routes and no regex runs per request.
 *
 * Patterns: `/api/data/:model/:id` (a parameter matches one non-empty
 * segment), `/files/*` (a prefix route: `*` matches the rest, possibly empty,
 * and is returned as the `*` parameter). Method `*` matches any method.
 * Precedence: static segment > parameter > tail.
 *
 * `match` returns the value and parameters, or `allowed` (the methods the
 * path has) when the path exists but the method does not (→ 405), or null.
 * Parameters are percent-decoded; `params` is null when an escape is
 * malformed (the caller answers 400). The match of a route without
 * parameters is one shared, read-only object (a single Map lookup).
 */

/** Result of {@linkcode Router.match}. */
export type RouteMatch<T> =
  | { value: T; params: Readonly<Record<string, string>> | null; pattern: string }
  | { value: undefined; allowed: string[] };

interface _Node<T> {
  statics: Map<string, _Node<T>>;
  param?: { name: string; node: _Node<T> };
  tail?: { name: string; methods: Map<string, _Entry<T>> };
  methods: Map<string, _Entry<T>>;
}

interface _Entry<T> {
  value: T;
  pattern: string;
  names: string[];
  /** For a route without parameters: the one match object every lookup returns. */
  fixed?: { value: T; params: Readonly<Record<string, string>>; pattern: string };
}

/** The parameters of every fixed route (read-only: callers copy what they need). */
const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

const newNode = <T>(): _Node<T> => ({ statics: new Map(), methods: new Map() });

export class Router<T> {
  #root: _Node<T> = newNode();
  #fixed = new Map<string, Map<string, _Entry<T>>>();
  /** The longest pattern in `#fixed`. */
  #fixedMax = 0;

  /** Add a route. Throws `TypeError` on a malformed pattern or a duplicate. */
  add(method: string, pattern: string, value: T): void {
    if (!pattern.startsWith("/")) throw new TypeError(`Route "${pattern}" must start with "/"`);
    method = method.toUpperCase();
    const segs = pattern.split("/").slice(1);
    const names: string[] = [];
    let node = this.#root;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg === "*" && i === segs.length - 1) {
        node.tail ??= { name: "*", methods: new Map() };
        names.push("*");
        this.#put(node.tail.methods, method, { value, pattern, names });
        return;
      }
      if (seg.startsWith(":")) {
        const name = seg.slice(1);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          throw new TypeError(`Bad parameter "${seg}" in route "${pattern}"`);
        }
        if (node.param && node.param.name !== name) {
          throw new TypeError(
            `Route "${pattern}" names parameter "${name}" where another route has "${node.param.name}"`,
          );
        }
        node.param ??= { name, node: newNode() };
        names.push(name);
        node = node.param.node;
      } else {
        if (seg.includes("*")) throw new TypeError(`"*" must be the last segment in "${pattern}"`);
        let next = node.statics.get(seg);
        if (!next) node.statics.set(seg, next = newNode());
        node = next;
      }
    }
    this.#put(node.methods, method, { value, pattern, names });
    if (names.length === 0) {
      this.#fixedMax = Math.max(this.#fixedMax, pattern.length);
      let m = this.#fixed.get(pattern);
      if (!m) this.#fixed.set(pattern, m = new Map());
      m.set(method, { value, pattern, names, fixed: { value, params: NO_PARAMS, pattern } });
    }
  }

  #put(methods: Map<string, _Entry<T>>, method: string, entry: _Entry<T>): void {
    if (methods.has(method)) {
      throw new TypeError(`Route ${method} "${entry.pattern}" is defined twice`);
    }
    methods.set(method, entry);
  }

  /** Find the route for `method` and `path` (the raw path, without query). */
  match(method: string, path: string): RouteMatch<T> | null {
    // Fast path: a route without parameters is a single Map lookup (skipped for a path longer
    // than every such route: hashing a long item URL for a sure miss costs more than the walk).
    const fixed = path.length <= this.#fixedMax ? this.#fixed.get(path) : undefined;
    if (fixed) {
      const e = fixed.get(method) ?? fixed.get("*") ??
        (method === "HEAD" ? fixed.get("GET") : undefined);
      if (e) return e.fixed!;
    }
    const values: string[] = [];
    const found = this.#walk(this.#root, path, 1, values);
    if (!found) return null;
    const e = pick(found.methods, method);
    if (!e) return { value: undefined, allowed: allowedOf(found.methods) };
    const params: Record<string, string> = {};
    for (let i = 0; i < e.names.length; i++) params[e.names[i]!] = values[i]!;
    if (found.tailValue !== undefined) params["*"] = found.tailValue;
    return { value: e.value, params: decodeAll(params), pattern: e.pattern };
  }

  /** Match the segment starting at `pos` (just after a "/"); past the end: the path is consumed. */
  #walk(
    node: _Node<T>,
    path: string,
    pos: number,
    values: string[],
  ): { methods: Map<string, _Entry<T>>; tailValue?: string } | null {
    if (pos > path.length) {
      if (node.methods.size > 0) return { methods: node.methods };
      if (node.tail) return { methods: node.tail.methods, tailValue: "" };
      return null;
    }
    let end = path.indexOf("/", pos);
    if (end < 0) end = path.length;
    const seg = path.slice(pos, end);
    // (No lookup in an empty map: it would hash the segment, e.g. a long item key, for nothing.)
    const child = node.statics.size > 0 ? node.statics.get(seg) : undefined;
    if (child) {
      const r = this.#walk(child, path, end + 1, values);
      if (r) return r;
    }
    if (node.param && seg !== "") {
      values.push(seg);
      const r = this.#walk(node.param.node, path, end + 1, values);
      if (r) return r;
      values.pop();
    }
    if (node.tail) return { methods: node.tail.methods, tailValue: path.slice(pos) };
    return null;
  }

  /** Every route as `METHOD pattern` (for diagnostics). */
  list(): string[] {
    const out: string[] = [];
    const visit = (n: _Node<T>) => {
      for (const [m, e] of n.methods) out.push(`${m} ${e.pattern}`);
      if (n.tail) { for (const [m, e] of n.tail.methods) out.push(`${m} ${e.pattern}`); }
      for (const c of n.statics.values()) visit(c);
      if (n.param) visit(n.param.node);
    };
    visit(this.#root);
    return out.sort();
  }
}

/** The parameters percent-decoded in place and frozen, or null when an escape is malformed. */
function decodeAll(params: Record<string, string>): Readonly<Record<string, string>> | null {
  for (const k in params) {
    const v = params[k]!;
    if (!v.includes("%")) continue;
    try {
      params[k] = decodeURIComponent(v);
    } catch {
      return null;
    }
  }
  return Object.freeze(params);
}

function pick<T>(methods: Map<string, _Entry<T>>, method: string): _Entry<T> | undefined {
  return methods.get(method) ?? methods.get("*") ??
    (method === "HEAD" ? methods.get("GET") : undefined);
}

function allowedOf<T>(methods: Map<string, _Entry<T>>): string[] {
  const set = new Set(methods.keys());
  if (set.has("*")) return ["*"];
  if (set.has("GET")) set.add("HEAD");
  set.add("OPTIONS");
  return [...set].sort();
}
