/**
 * A device application bundle (`tern.bundle` jobs, `update.bundles`): the
 * same A/B idea as the agent's binary, with a directory per release and a
 * symlink. Layout under the bundle's `DIR`:
 *
 * | path                  | what                                               |
 * |-----------------------|----------------------------------------------------|
 * | `releases/VERSION/`   | one unpacked `.tar.gz` per release (`tar -xzf`)    |
 * | `current`             | symlink to `releases/VERSION` (the live release)   |
 * | `previous`            | symlink to the release before it                   |
 *
 * Steps (each idempotent): `unpack` into `releases/VERSION.tmp`, renamed to
 * `releases/VERSION`; `keep` (`previous` → what `current` points to); `swap`
 * (`current.tmp` → the new release, renamed over `current`: atomic); then
 * the post-install `command`. When it fails, `current` goes back to
 * `previous` and the command runs there again. Older releases beyond `keep`
 * are removed after a success.
 */

import { join } from "../../path.ts";

export interface BundleConfig {
  dir: string;
  command?: string[];
  timeout: number;
  keep: number;
}

export class Bundle {
  readonly dir: string;
  readonly #c: BundleConfig;

  constructor(dir: string, config: BundleConfig) {
    this.dir = dir;
    this.#c = config;
  }

  /** The live release's version, or undefined before the first. */
  async current(): Promise<string | undefined> {
    try {
      return (await Deno.readLink(join(this.dir, "current"))).split("/").pop();
    } catch {
      return undefined;
    }
  }

  async unpack(archive: string, version: string): Promise<void> {
    const releases = join(this.dir, "releases");
    await Deno.mkdir(releases, { recursive: true });
    const dest = join(releases, version);
    const tmp = dest + ".tmp";
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.mkdir(tmp);
    const r = await new Deno.Command("tar", {
      args: ["-xzf", archive, "-C", tmp, "--no-same-owner"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) {
      throw new Error(
        `tar could not unpack the bundle: ${new TextDecoder().decode(r.stderr).trim()}`,
      );
    }
    await Deno.remove(dest, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dest);
  }

  async keep(): Promise<void> {
    const cur = await Deno.readLink(join(this.dir, "current")).catch(() => undefined);
    if (cur !== undefined) await this.#link("previous", cur);
  }

  async swap(version: string): Promise<void> {
    await this.#link("current", `releases/${version}`);
  }

  /** Back to `previous`; false when there is none. */
  async restore(): Promise<boolean> {
    const prev = await Deno.readLink(join(this.dir, "previous")).catch(() => undefined);
    if (prev === undefined) {
      await Deno.remove(join(this.dir, "current")).catch(() => {});
      return false;
    }
    await this.#link("current", prev);
    return true;
  }

  /** Run the post-install command in `current`; the error message, or undefined when it passed. */
  async postInstall(version: string): Promise<string | undefined> {
    const cmd = this.#c.command;
    if (!cmd) return undefined;
    const signal = AbortSignal.timeout(this.#c.timeout);
    try {
      const r = await new Deno.Command(cmd[0]!, {
        args: cmd.slice(1),
        cwd: join(this.dir, "current"),
        env: { TERN_BUNDLE_VERSION: version },
        stdout: "null",
        stderr: "piped",
        signal,
      }).output();
      if (r.success) return undefined;
      const tail = new TextDecoder().decode(r.stderr).trim().slice(-300);
      return `post-install command exited ${r.code}${tail ? `: ${tail}` : ""}`;
    } catch (e) {
      return signal.aborted
        ? `post-install command did not finish within ${this.#c.timeout} ms`
        : `post-install command could not run: ${(e as Error).message}`;
    }
  }

  /** Remove releases beyond `keep`, never current or previous. */
  async prune(): Promise<void> {
    const releases = join(this.dir, "releases");
    const live = new Set<string>();
    for (const l of ["current", "previous"]) {
      const t = await Deno.readLink(join(this.dir, l)).catch(() => undefined);
      if (t) live.add(t.split("/").pop()!);
    }
    const all: { name: string; mtime: number }[] = [];
    for await (const e of Deno.readDir(releases)) {
      if (!e.isDirectory) continue;
      const st = await Deno.stat(join(releases, e.name));
      all.push({ name: e.name, mtime: st.mtime?.getTime() ?? 0 });
    }
    all.sort((a, b) => b.mtime - a.mtime);
    let kept = 0;
    for (const r of all) {
      if (live.has(r.name) || ++kept <= this.#c.keep - live.size) continue;
      await Deno.remove(join(releases, r.name), { recursive: true }).catch(() => {});
    }
  }

  async #link(name: string, target: string): Promise<void> {
    const tmp = join(this.dir, `${name}.tmp`);
    await Deno.remove(tmp).catch(() => {});
    await Deno.symlink(target, tmp);
    await Deno.rename(tmp, join(this.dir, name));
  }
}
