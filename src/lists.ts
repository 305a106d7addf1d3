/**
 * List inputs. Users write lists either one per line or comma separated (tags, platforms); some entries
 * contain commas themselves (cache specs like `type=registry,ref=x`, build-args, labels), so those lists
 * are split on newlines only. Double quotes protect a comma, CSV style: `"a,b",c` → [`a,b`, `c`].
 */
export interface ListOptions {
  /** Also split on commas (outside double quotes). */
  commas: boolean;
}

export function parseList(value: string, options: ListOptions = { commas: true }): string[] {
  const items: string[] = [];
  for (const line of value.split(/\r?\n/)) {
    const parts = options.commas ? splitCsvLine(line) : [line];
    for (const part of parts) {
      const trimmed = part.trim();
      if (trimmed !== '' && !trimmed.startsWith('#')) items.push(trimmed);
    }
  }
  return items;
}

/** Splits one line on commas, honouring double quotes ("" inside quotes is a literal quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        current += ch;
      }
    } else if (ch === '"' && current.trim() === '') {
      quoted = true;
      current = '';
    } else if (ch === ',') {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

/** YAML 1.2 core-schema booleans, as the runner passes them; empty means "use the default". */
export function parseBoolean(name: string, value: string, fallback: boolean): boolean {
  const v = value.trim();
  if (v === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw new Error(`Input "${name}" must be true or false, got "${v}"`);
}

/** Parses KEY=VALUE entries (build-args, labels); the value may contain '=' and commas. */
export function parseKeyValues(name: string, entries: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`Input "${name}": expected KEY=VALUE, got "${entry}"`);
    map.set(entry.slice(0, eq).trim(), entry.slice(eq + 1));
  }
  return map;
}

/** A whole number of seconds (0 allowed: "no limit"), as milliseconds; empty means the default. */
export function parseSeconds(name: string, value: string, fallbackSeconds: number): number {
  const v = value.trim();
  if (v === '') return fallbackSeconds * 1000;
  if (!/^\d+$/.test(v)) throw new Error(`Input "${name}" must be a whole number of seconds, got "${v}"`);
  return Number(v) * 1000;
}
