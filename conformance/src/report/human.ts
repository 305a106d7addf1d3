// Terminal output: one line per check as it finishes, then a summary table per area and failure details.
import type { CheckResult } from '../harness/types.js';
import type { SuiteReport } from '../suite.js';
import { SYMBOL, detailText } from './format.js';

export function progressLine(r: CheckResult, hideSkipped: boolean): string | undefined {
  if (hideSkipped && r.outcome === 'skipped') return undefined;
  const extra = r.outcome === 'passed' ? '' : ` — ${r.reason ?? ''}`;
  return `${SYMBOL[r.outcome]} ${r.id} (${r.durationMs} ms)${extra}`;
}

export function summaryText(rep: SuiteReport): string {
  const rows = [['area', 'passed', 'failed', 'skipped', 'error', 'total']];
  for (const a of rep.areas) rows.push([a.title, a.passed, a.failed, a.skipped, a.error, a.total].map(String));
  const s = rep.summary;
  rows.push(['all', s.passed, s.failed, s.skipped, s.error, s.total].map(String));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    '',
    `Conformance of ${rep.target.url} (${(rep.durationMs / 1000).toFixed(1)} s, management API: ${rep.management.available ? 'yes' : 'no — ' + rep.management.reason})`,
    line(rows[0]!),
    ...rows.slice(1, -1).map(line),
    line(rows[rows.length - 1]!),
  ];
  const bad = rep.checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error');
  if (bad.length) {
    out.push('', 'Failures:');
    for (const c of bad) out.push('', detailText(c));
  }
  for (const n of rep.harnessNotes) out.push(`harness: ${n}`);
  return out.join('\n') + '\n';
}
