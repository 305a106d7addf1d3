// Markdown for $GITHUB_STEP_SUMMARY: a summary table per area, then failures with transcripts folded away.
import type { SuiteReport } from '../suite.js';
import { describeFailure, tail, transcriptText } from './format.js';

const ICON = { passed: '✅', failed: '❌', skipped: '⏭️', error: '⚠️' } as const;

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdown(rep: SuiteReport, hideSkipped = false): string {
  const s = rep.summary;
  const out = [
    `## Registry conformance: ${s.failed + s.error === 0 ? 'passed' : 'FAILED'}`,
    '',
    `Target \`${rep.target.url}\` — ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.error} errors in ${(rep.durationMs / 1000).toFixed(1)} s.`,
    '',
    '| Area | Passed | Failed | Skipped | Error |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rep.areas.map((a) => `| ${a.title} | ${a.passed} | ${a.failed} | ${a.skipped} | ${a.error} |`),
    '',
    '| | Check | Title | Note |',
    '| --- | --- | --- | --- |',
  ];
  for (const c of rep.checks) {
    if (hideSkipped && c.outcome === 'skipped') continue;
    out.push(`| ${ICON[c.outcome]} | \`${c.id}\` | ${cell(c.title)} | ${cell(c.outcome === 'passed' ? '' : c.reason ?? '')} |`);
  }
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
