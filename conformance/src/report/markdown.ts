// Markdown for $GITHUB_STEP_SUMMARY: a summary table per area, then failures with transcripts folded away.
import type { SuiteReport } from '../suite.js';
import { describeFailure, tail, transcriptText } from './format.js';

const ICON = { passed: '✅', failed: '❌', unsupported: '➖', skipped: '⏭️', error: '⚠️' } as const;

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdown(rep: SuiteReport, hideSkipped = false): string {
  const s = rep.summary;
  const out = [
    `## Registry conformance: ${rep.failing === 0 ? 'passed' : 'FAILED'} (level ${rep.level})`,
    '',
    `Target \`${rep.target.url}\` — ${s.passed} passed, ${s.failed} failed (${rep.failing} at ${rep.level} or stronger), ${s.unsupported} unsupported, ${s.skipped} skipped, ${s.error} errors in ${(rep.durationMs / 1000).toFixed(1)} s.`,
    '',
    '| Area | Passed | Failed | Unsupported | Skipped | Error |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rep.areas.map((a) => `| ${a.title} | ${a.passed} | ${a.failed} | ${a.unsupported} | ${a.skipped} | ${a.error} |`),
    '',
    '| Feature | Supported | How known |',
    '| --- | --- | --- |',
    ...Object.entries(rep.features).map(([, f]) => `| ${cell(f.title)} | ${f.supported === undefined ? '?' : f.supported ? 'yes' : 'no'} | ${cell(f.source + (f.detail ? ': ' + f.detail : ''))} |`),
    '',
    '| | Check | Level | Title | Note |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const c of rep.checks) {
    if (hideSkipped && c.outcome === 'skipped') continue;
    out.push(`| ${ICON[c.outcome]} | \`${c.id}\` | ${c.failedLevel && c.failedLevel !== c.level ? `${c.level} (failed ${c.failedLevel})` : c.level} | ${cell(c.title)} | ${cell(c.outcome === 'passed' ? '' : c.reason ?? '')} |`);
  }
  const left = [...rep.cleanup.leftovers, ...rep.cleanup.setup];
  if (left.length) out.push('', '### Left behind', '', ...left.map((l) => `- ${cell(l)}`));
  const bad = rep.checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error');
  if (bad.length) out.push('', '### Failures');
  for (const c of bad) {
    out.push('', `#### \`${c.id}\``, '', `${c.title} — *${c.spec}*`, '', '```', ...c.failures.map(describeFailure), ...(c.reason && !c.failures.length ? [c.reason] : []), '```');
    if (c.transcript.length) {
      out.push('', '<details><summary>HTTP transcript</summary>', '', '```', transcriptText(tail(c.transcript)), '```', '', '</details>');
    }
  }
  return out.join('\n') + '\n';
}
