// A standalone HTML page (inline CSS, no scripts) for artifacts: summary per area and every check's detail.
import type { SuiteReport } from '../suite.js';
import { describeFailure, tail, transcriptText } from './format.js';
import { xmlEscape as esc } from './junit.js';

const CSS = `body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}.passed{color:#17692b}
.failed,.error{color:#b00020;font-weight:600}.skipped,.unsupported{color:#777}pre{background:#f7f7f7;padding:.6rem;overflow:auto;white-space:pre-wrap}
code{font-size:13px}`;

export function html(rep: SuiteReport, hideSkipped = false): string {
  const s = rep.summary;
  const rows = rep.checks
    .filter((c) => !(hideSkipped && c.outcome === 'skipped'))
    .map((c) => {
      const detail =
        c.outcome === 'failed' || c.outcome === 'error'
          ? `<details><summary>details</summary><p>Spec: ${esc(c.spec)}</p><pre>${esc(
              [...c.failures.map(describeFailure), ...(c.failures.length ? [] : [c.reason ?? '']), ...c.notes.map((n) => 'note: ' + n)].join('\n'),
            )}</pre>${c.transcript.length ? `<pre>${esc(transcriptText(tail(c.transcript)))}</pre>` : ''}</details>`
          : esc(c.outcome === 'skipped' || c.outcome === 'unsupported' ? c.reason ?? '' : '');
      return `<tr><td class="${c.outcome}">${c.outcome}</td><td><code>${esc(c.id)}</code></td><td>${c.level}${c.failedLevel && c.failedLevel !== c.level ? ` (failed ${c.failedLevel})` : ''}</td><td>${esc(c.title)}</td><td>${c.durationMs} ms</td><td>${detail}</td></tr>`;
    });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Registry conformance — ${esc(rep.target.url)}</title><style>${CSS}</style></head><body>
<h1>Registry conformance: <span class="${rep.failing ? 'failed' : 'passed'}">${rep.failing ? 'FAILED' : 'passed'}</span> (level ${rep.level})</h1>
<p>Target <code>${esc(rep.target.url)}</code>, run ${esc(rep.runId)} at ${esc(rep.startedAt)}, ${(rep.durationMs / 1000).toFixed(1)} s.
Setup: ${rep.setup.adapter ? esc(rep.setup.adapter) : esc('none — ' + (rep.setup.reason ?? ''))}.</p>
<table><tr><th>Area</th><th>Passed</th><th>Failed</th><th>Unsupported</th><th>Skipped</th><th>Error</th></tr>
${rep.areas.map((a) => `<tr><td>${esc(a.title)}</td><td>${a.passed}</td><td>${a.failed}</td><td>${a.unsupported}</td><td>${a.skipped}</td><td>${a.error}</td></tr>`).join('\n')}
<tr><th>All</th><th>${s.passed}</th><th>${s.failed}</th><th>${s.unsupported}</th><th>${s.skipped}</th><th>${s.error}</th></tr></table>
<table><tr><th>Feature</th><th>Supported</th><th>How known</th></tr>
${Object.values(rep.features).map((f) => `<tr><td>${esc(f.title)}</td><td>${f.supported === undefined ? '?' : f.supported ? 'yes' : 'no'}</td><td>${esc(f.source + (f.detail ? ': ' + f.detail : ''))}</td></tr>`).join('\n')}
</table>
<table><tr><th>Outcome</th><th>Check</th><th>Level</th><th>Title</th><th>Time</th><th>Detail</th></tr>
${rows.join('\n')}
</table></body></html>
`;
}
