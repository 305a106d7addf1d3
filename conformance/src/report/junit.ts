// JUnit XML (Ant/Surefire shape, which CI reporters accept): one <testsuite> per area, one <testcase> per check
// (classname = area, name = check id); failure/error bodies carry title, spec, assertions and transcript.
import type { SuiteReport } from '../suite.js';
import { detailText } from './format.js';

export function xmlEscape(s: string): string {
  // Also drop characters XML 1.0 cannot carry at all.
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function junitXml(rep: SuiteReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = rep.summary;
  out.push(
    `<testsuites name="nitro-registry conformance" tests="${s.total}" failures="${s.failed}" errors="${s.error}" skipped="${s.skipped + s.unsupported}" time="${(rep.durationMs / 1000).toFixed(3)}">`,
  );
  for (const a of rep.areas) {
    const checks = rep.checks.filter((c) => c.area === a.id);
    const time = checks.reduce((n, c) => n + c.durationMs, 0) / 1000;
    out.push(
      `  <testsuite name="${xmlEscape(a.title)}" id="${a.id}" tests="${a.total}" failures="${a.failed}" errors="${a.error}" skipped="${a.skipped + a.unsupported}" time="${time.toFixed(3)}" timestamp="${rep.startedAt}">`,
    );
    for (const c of checks) {
      out.push(`    <testcase classname="${a.id}" name="${xmlEscape(c.id)}" time="${(c.durationMs / 1000).toFixed(3)}">`);
      if (c.outcome === 'skipped' || c.outcome === 'unsupported') out.push(`      <skipped message="${xmlEscape((c.outcome === 'unsupported' ? 'unsupported: ' : '') + (c.reason ?? ''))}"/>`);
      if (c.outcome === 'failed' || c.outcome === 'error') {
        const tag = c.outcome === 'failed' ? 'failure' : 'error';
        out.push(`      <${tag} message="${xmlEscape(c.reason ?? '')}" type="${c.outcome}">${xmlEscape(detailText(c))}</${tag}>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
