// Terminal output: one line per check as it finishes, then a summary table per area and failure details.
import type { CheckResult } from '../harness/types.js';
import type { SuiteReport } from '../suite.js';
import { failsRun } from '../suite.js';
import { SYMBOL, detailText, levelTag } from './format.js';

export function progressLine(r: CheckResult, hideSkipped: boolean): string | undefined {
  if (hideSkipped && r.outcome === 'skipped') return undefined;
  const extra = r.outcome === 'passed' ? '' : ` — ${r.reason ?? ''}`;
  return `${SYMBOL[r.outcome]} ${r.id} ${levelTag(r)} (${r.durationMs} ms)${extra}`;
}

export function summaryText(rep: SuiteReport): string {
  const rows = [['area', 'passed', 'failed', 'unsupported', 'skipped', 'error', 'total']];
  for (const a of rep.areas) rows.push([a.title, a.passed, a.failed, a.unsupported, a.skipped, a.error, a.total].map(String));
  const s = rep.summary;
  rows.push(['all', s.passed, s.failed, s.unsupported, s.skipped, s.error, s.total].map(String));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    '',
    `Conformance of ${rep.target.url} (${(rep.durationMs / 1000).toFixed(1)} s, --level ${rep.level.toLowerCase()}, setup: ${rep.setup.adapter ?? 'none — ' + rep.setup.reason})`,
    line(rows[0]!),
    ...rows.slice(1, -1).map(line),
    line(rows[rows.length - 1]!),
  ];
  out.push('', 'Features:');
  for (const [id, f] of Object.entries(rep.features)) {
    out.push(`  ${f.supported === undefined ? '?  ' : f.supported ? 'yes' : 'no '} ${id.padEnd(18)} ${f.detail ?? ''}${f.source === 'declared' ? ' (declared)' : ''}`);
  }
  const bad = rep.checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error');
  if (bad.length) {
    out.push('', 'Failures:');
    for (const c of bad) out.push('', (failsRun(c, rep.level) ? '' : `(below --level ${rep.level.toLowerCase()}, does not fail the run) `) + detailText(c));
  }
  const c = rep.cleanup;
  out.push('', `Cleanup: removed ${c.removed.manifests} manifests, ${c.removed.blobs} blobs, ${c.removed.uploads} upload sessions${c.leftovers.length + c.setup.length ? '; left behind:' : '; nothing left behind'}`);
  for (const l of [...c.leftovers, ...c.setup]) out.push(`  ${l}`);
  for (const n of rep.harnessNotes) out.push(`harness: ${n}`);
  return out.join('\n') + '\n';
}
