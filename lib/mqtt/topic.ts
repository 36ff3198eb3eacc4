/**
 * Topics: template expansion (`${thing}`, `${deviceId}`), filter validation
 * and local wildcard matching (`+` one level, `#` the rest), following MQTT
 * 3.1.1 §4.7: a filter starting with a wildcard does not match topics that
 * start with `$` (so `#` never sees `$aws/...`).
 */

/** Values that templates may use. */
export interface TopicVars {
  /** AWS IoT thing name. */
  thing: string;
  /** Device id. */
  deviceId: string;
}

/** UTF-8 byte length of a topic, cached (devices publish to few topics). */
export function topicBytes(topic: string): number {
  let n = _lengths.get(topic);
  if (n === undefined) {
    if (_lengths.size >= 4096) _lengths.clear();
    n = _encoder.encode(topic).length;
    _lengths.set(topic, n);
  }
  return n;
}

const _encoder = new TextEncoder();
const _lengths = new Map<string, number>();
const VAR = /\$\{([^}]*)\}/g;

/** Replace `${thing}` and `${deviceId}`; an unknown name is a TypeError naming it. */
export function expandTopic(template: string, vars: TopicVars): string {
  if (!template.includes("${")) return template;
  return template.replace(VAR, (_all, name: string) => {
    if (name === "thing") return vars.thing;
    if (name === "deviceId") return vars.deviceId;
    const hint = _closest(name, ["thing", "deviceId"]);
    throw new TypeError(
      `Unknown topic variable "\${${name}}" in "${template}"` +
        (hint ? ` (did you mean "\${${hint}}"?)` : ` (known: "\${thing}", "\${deviceId}")`),
    );
  });
}

/** Throws a TypeError unless `topic` is a valid topic name to publish to (no wildcards). */
export function checkTopicName(topic: string): void {
  if (topic.length === 0) throw new TypeError("Topic must not be empty");
  if (topic.includes("+") || topic.includes("#")) {
    throw new TypeError(
      `Topic "${topic}" contains a wildcard ("+" or "#"); publish needs a plain topic`,
    );
  }
  if (topic.includes("\u0000")) throw new TypeError(`Topic "${topic}" contains a NUL character`);
}

/** Throws a TypeError unless `filter` is a valid subscription filter. */
export function checkFilter(filter: string): void {
  if (filter.length === 0) throw new TypeError("Topic filter must not be empty");
  const levels = filter.split("/");
  levels.forEach((level, i) => {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      throw new TypeError(`Topic filter "${filter}": "#" must be a whole level and the last one`);
    }
    if (level.includes("+") && level !== "+") {
      throw new TypeError(`Topic filter "${filter}": "+" must be a whole level`);
    }
  });
}

/** Whether `topic` matches the subscription `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function _closest(name: string, known: string[]): string | undefined {
  const lower = name.toLowerCase();
  return known.find((k) => {
    const kl = k.toLowerCase();
    return kl.startsWith(lower.slice(0, 3)) || _distance(kl, lower) <= 2;
  });
}

function _distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length]![b.length]!;
}
