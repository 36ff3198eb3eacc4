/**
 * `ConfigError`: every problem found in a config directory, reported at once.
 * Each problem names the file, the key path, what was expected and what was
 * found. The CLI exits 78 (EX_CONFIG) on it.
 */

/** One problem in one file. */
export interface ConfigProblem {
  /** File name relative to the config dir ("tern.json5"), or "env TERN_…", or "flag --…". */
  file: string;
  /** Dotted key path ("web.listen[0]"); "" for the whole file. */
  path: string;
  /** Full sentence, e.g. `Unknown key "web.listn" in tern.json5 (did you mean "web.listen"?)`. */
  message: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "config";
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], options?: ErrorOptions) {
    const head = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(
      `Configuration has ${head}:\n` + problems.map((p) => `  - ${p.message}`).join("\n"),
      options,
    );
    this.problems = problems;
  }
}
