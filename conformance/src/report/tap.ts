// A TAP 14 stream of the whole run: each check is a subtest carrying node-tap's own output for it.
import type { SuiteReport } from '../suite.js';

export function tapStream(rep: SuiteReport): string {
  const out = ['TAP version 14'];
  rep.checks.forEach((c, i) => {
    if (c.outcome === 'skipped' || c.outcome === 'unsupported') {
      out.push(`ok ${i + 1} - ${c.id} # SKIP ${c.outcome === 'unsupported' ? 'unsupported: ' : ''}${c.reason ?? ''}`);
      return;
    }
    out.push(`# Subtest: ${c.id}`);
    for (const line of c.tap.replace(/^TAP version 14\n/, '').trimEnd().split('\n')) out.push('    ' + line);
    if (c.outcome === 'error') out.push(`    not ok - harness error: ${(c.reason ?? '').replace(/\n/g, ' ')}`);
    out.push(`${c.outcome === 'passed' ? 'ok' : 'not ok'} ${i + 1} - ${c.id}`);
  });
  out.push(`1..${rep.checks.length}`);
  return out.join('\n') + '\n';
}
