// Assertions phrased the way registry behaviour is specified; each names the observed value on failure. An optional
// level marks an assertion weaker than its check (e.g. the error code after a MUST status is only a SHOULD).
import type { Res } from '../http/client.js';
import { errorCodes } from '../oci/push.js';
import type { Level, TapTest } from '../harness/types.js';

const lv = (level?: Level) => (level ? { level } : {});

export function status(t: TapTest, res: Res, want: number | number[], what: string, level?: Level): boolean {
  const list = Array.isArray(want) ? want : [want];
  return t.ok(list.includes(res.status), `${what}: HTTP ${list.join(' or ')}`, { got: res.status, expected: list.join('|'), ...lv(level) });
}

/** Status, an OCI error document, and the expected code among its errors. */
export function ociError(t: TapTest, res: Res, want: number | number[], code: string | string[], what: string, level?: Level): void {
  status(t, res, want, what, level);
  const codes = errorCodes(res);
  t.ok(codes !== undefined, `${what}: body is an OCI error document {"errors":[{"code","message"}]}`, {
    got: res.text().slice(0, 300),
    ...lv(level),
  });
  const accepted = Array.isArray(code) ? code : [code];
  t.ok(codes?.some((c) => accepted.includes(c)) ?? false, `${what}: error code ${accepted.join(' or ')}`, {
    got: codes,
    expected: accepted,
    ...lv(level),
  });
}

export function header(t: TapTest, res: Res, name: string, want: string | RegExp, what: string, level?: Level): boolean {
  const v = res.headers.get(name);
  if (typeof want === 'string') return t.equal(v, want, `${what}: ${name} is ${want}`, lv(level));
  return t.ok(v !== null && want.test(v), `${what}: ${name} matches ${want}`, { got: v, expected: String(want), ...lv(level) });
}

export function hasHeader(t: TapTest, res: Res, name: string, what: string, level?: Level): boolean {
  return t.ok(res.headers.get(name) !== null, `${what}: response has ${name}`, { got: null, ...lv(level) });
}
