/**
 * Log group and stream names from their templates: `{thing}`, `{device}`,
 * `{date}` (the event's UTC day, YYYY-MM-DD), `{name}` and `{file}`, checked
 * against CloudWatch's rules after expansion (group: `[.\-_/#A-Za-z0-9]`,
 * stream: no ":" or "*"; both 1 to 512 characters).
 */

/** Values of the placeholders (`date` comes from each event's time). */
export interface NameValues {
  thing: string;
  device: string;
  name?: string;
  file?: string;
}

/** Expand `template` for an event at `time` (ms since the epoch). */
export function expand(template: string, values: NameValues, time: number): string {
  if (!template.includes("{")) return template;
  return template.replace(/\{(thing|device|date|name|file)\}/g, (_, k: string) => {
    if (k === "date") return new Date(time).toISOString().slice(0, 10);
    return (values as unknown as Record<string, string | undefined>)[k] ?? "";
  });
}

/** A valid log group name, or a TypeError naming the problem. */
export function checkGroup(name: string): string {
  if (!/^[.\-_/#A-Za-z0-9]{1,512}$/.test(name)) {
    throw new TypeError(
      `Log group name "${name}" is not valid (1 to 512 of letters, digits and . - _ / #)`,
    );
  }
  return name;
}

/** A valid log stream name, or a TypeError naming the problem. */
export function checkStream(name: string): string {
  if (name.length < 1 || name.length > 512 || /[:*\n]/.test(name)) {
    throw new TypeError(
      `Log stream name "${name}" is not valid (1 to 512 characters, no ":" or "*")`,
    );
  }
  return name;
}

/** A name given to `write()` or taken from a file: letters, digits and _ . - only. */
export function safePart(part: string): string {
  return part.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 128) || "_";
}
