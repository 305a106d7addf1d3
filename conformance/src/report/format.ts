// Small text helpers shared by the report writers.
import type { AssertionRecord, CheckResult } from '../harness/types.js';
import type { Exchange } from '../http/client.js';

export const SYMBOL: Record<CheckResult['outcome'], string> = { passed: 'PASS', failed: 'FAIL', unsupported: 'UNSP', skipped: 'SKIP', error: 'ERR ' };

/** `[MUST]`, or `[MUST, failed SHOULD]` when only weaker assertions failed. */
export function levelTag(r: CheckResult): string {
  return r.failedLevel && r.failedLevel !== r.level ? `[${r.level}; failed ${r.failedLevel}]` : `[${r.level}]`;
}

export function describeFailure(f: AssertionRecord): string {
  const parts = [`not ok - ${f.name} [${f.level}]`];
  if (f.found !== undefined && f.wanted !== undefined) parts.push(`found: ${fmt(f.found)}  wanted: ${fmt(f.wanted)}`);
  else if (f.found !== undefined) parts.push(`found: ${fmt(f.found)}`);
  else if (f.wanted !== undefined) parts.push(`wanted: ${fmt(f.wanted)}`);
  else if (f.diff) parts.push(f.diff.trimEnd().split('\n').slice(2).join('\n  '));
  return parts.join('\n  ');
}

function fmt(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > 300 ? s.slice(0, 300) + '…' : s;
}

export function transcriptText(ex: Exchange[]): string {
  return ex
    .map((e) => {
      const lines = [`> ${e.method} ${e.url}`];
      for (const [k, v] of Object.entries(e.requestHeaders)) lines.push(`> ${k}: ${v}`);
      if (e.requestBody) lines.push(`> ${e.requestBody}`);
      if (e.error) lines.push(`! ${e.error}`);
      else lines.push(`< HTTP ${e.status} (${e.durationMs} ms)`);
      for (const [k, v] of Object.entries(e.responseHeaders)) lines.push(`< ${k}: ${v}`);
      if (e.responseBody) lines.push(`< ${e.responseBody}`);
      return lines.join('\n');
    })
    .join('\n\n');
}

/** The last exchanges matter most; keep reports readable. */
export function tail(ex: Exchange[], n = 12): Exchange[] {
  return ex.length > n ? ex.slice(-n) : ex;
}

export function detailText(r: CheckResult): string {
  const out: string[] = [`${r.id}: ${r.title}`, `spec: ${r.spec} ${levelTag(r)}`];
  if (r.reason) out.push(`reason: ${r.reason}`);
  for (const f of r.failures) out.push(describeFailure(f));
  for (const n of r.notes) out.push(`note: ${n}`);
  if (r.transcript.length) {
    const shown = tail(r.transcript);
    out.push(`transcript (last ${shown.length} of ${r.transcript.length} exchanges):`, transcriptText(shown));
  }
  return out.join('\n');
}
