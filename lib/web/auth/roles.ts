/**
 * Roles with inheritance, from `web.roles`: `{ public: [], user: ["public"],
 * admin: ["user"] }` means admin ⊃ user ⊃ public. `allows(have, need)` is
 * true when `need` is `have` or anything `have` inherits, transitively.
 * Cycles and unknown parents are configuration errors.
 */

export class Roles {
  readonly #closure = new Map<string, Set<string>>();

  constructor(readonly declared: Record<string, string[]>) {
    for (const [role, parents] of Object.entries(declared)) {
      for (const p of parents) {
        if (!(p in declared)) {
          throw new RangeError(`Role "${role}" inherits unknown role "${p}"`);
        }
      }
    }
    for (const role of Object.keys(declared)) this.#closure.set(role, this.#expand(role, []));
    if (!this.#closure.has("public")) this.#closure.set("public", new Set(["public"]));
  }

  #expand(role: string, path: string[]): Set<string> {
    if (path.includes(role)) {
      throw new RangeError(`Roles inherit in a cycle: ${[...path, role].join(" → ")}`);
    }
    const out = new Set([role]);
    for (const p of this.declared[role] ?? []) {
      for (const r of this.#expand(p, [...path, role])) out.add(r);
    }
    return out;
  }

  has(role: string): boolean {
    return this.#closure.has(role);
  }

  /** Every role name. */
  names(): string[] {
    return [...this.#closure.keys()];
  }

  /** True when a principal with role `have` may use something that needs `need`. */
  allows(have: string | undefined, need: string): boolean {
    if (need === "public") return true;
    if (have === undefined) return false;
    return this.#closure.get(have)?.has(need) ?? false;
  }

  /** Throw `RangeError` naming the known roles when `role` is not one of them. */
  check(role: string): void {
    if (!this.has(role)) {
      throw new RangeError(`Unknown role "${role}" (roles: ${this.names().join(", ")})`);
    }
  }
}
