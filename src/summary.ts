import type { VerifyReport } from './verify/report.js';

/**
 * Renders the verification report as the job summary (GitHub-flavoured Markdown): a verdict, a table of
 * tags and a table of platforms per repository, attestations counted apart, then failures and warnings.
 * Pure: the entry point writes it with core.summary.
 */
export function renderSummary(report: VerifyReport, title = 'Image verification'): string {
  const lines: string[] = [];
  const verdict = report.ok ? '✅ verified' : '❌ failed';
  lines.push(`### ${title}: ${verdict}`, '');
  if (report.digest) lines.push(`Pushed digest: \`${report.digest}\`${report.mediaType ? ` (${report.mediaType})` : ''}`, '');
  const checks = report.pulled ? 'every blob downloaded and its digest checked' : 'every blob checked with HEAD (size)';
  lines.push(`Checks: ${checks}; requested platforms: ${report.requestedPlatforms.length ? report.requestedPlatforms.map(code).join(', ') : 'any'}.`, '');

  lines.push('| Tag | Resolves to | Status |', '| --- | --- | --- |');
  for (const t of report.tags) {
    const status = t.repaired ? `🔧 repaired (was ${code(t.resolvedBeforeRepair ?? '?')})` : t.ok ? '✅' : '❌';
    lines.push(`| ${code(t.image)} | ${t.resolved ? code(t.resolved) : '—'} | ${status} |`);
  }
  lines.push('');

  const repositories = [...new Set(report.platforms.map((p) => p.repository))];
  for (const repo of repositories) {
    lines.push(`| Platform (${escapeCell(repo)}) | Manifest | Blobs | Size | Status |`, '| --- | --- | ---: | ---: | --- |');
    for (const p of report.platforms.filter((x) => x.repository === repo)) {
      lines.push(`| ${code(p.platform)} | ${code(p.digest)} | ${p.blobs} | ${formatBytes(p.bytes)} | ${p.ok ? '✅' : '❌'} |`);
    }
    const att = report.attestations.filter((a) => a.repository === repo);
    if (att.length) {
      const bad = att.filter((a) => !a.ok).length;
      lines.push('', `Attestation manifests: ${att.length} (${att.map((a) => a.platform ?? 'unknown').join(', ')}) — not counted as platforms${bad ? `; ${bad} incomplete ❌` : ''}.`);
    }
    lines.push('');
  }

  if (report.failures.length) {
    lines.push('**Failures**', '');
    for (const f of report.failures) lines.push(`- \`${f.code}\` ${escapeCell(f.message)}`);
    lines.push('');
  }
  if (report.warnings.length) {
    lines.push('**Warnings**', '');
    for (const w of report.warnings) lines.push(`- ${escapeCell(w)}`);
    lines.push('');
  }
  return lines.join('\n');
}

function code(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
