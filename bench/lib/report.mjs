// Turns per-round measurements into medians, ratios, a console table and markdown.
// Ratios are "× better for B than A" in both columns, so ≥ 1.5 always means the
// target is met: throughput B/A, and CPU efficiency A_cpu_ms/B_cpu_ms (= B's ops per
// CPU-second ÷ A's).

export const TARGET_RATIO = 1.5;

/** The p-th percentile (0..100) of the values, nearest rank. */
export function percentile(values, p) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Throughput of one round in the op's unit. */
export function throughput(unit, { count, bytes, wallMs }) {
  const s = wallMs / 1000;
  return unit === 'MiB/s' ? bytes / (1 << 20) / s : count / s;
}

function fmt(x, digits) {
  if (!Number.isFinite(x)) return '—';
  if (digits === undefined) digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toFixed(digits);
}

/** Summarises results.ops[*].perTarget[*].rounds into medians and ratios (in place). */
export function summarise(results) {
  const [a, b] = results.targets.map((t) => t.name);
  for (const op of results.ops) {
    for (const name of Object.keys(op.perTarget)) {
      const pt = op.perTarget[name];
      const ok = pt.rounds.filter((r) => !r.error);
      pt.median = {
        throughput: median(ok.map((r) => r.throughput)),
        cpuMsPerOp: median(ok.map((r) => r.cpuMsPerOp)),
        loadgenCpuMsPerOp: median(ok.map((r) => r.loadgenCpuMsPerOp)),
      };
      pt.spread = spread(ok.map((r) => r.throughput));
      pt.errors = pt.rounds.filter((r) => r.error).map((r) => r.error);
    }
    if (b && op.perTarget[a] && op.perTarget[b]) {
      const A = op.perTarget[a].median;
      const B = op.perTarget[b].median;
      op.ratio = {
        label: `${b}/${a}`,
        throughput: B.throughput / A.throughput,
        cpuEfficiency: A.cpuMsPerOp / B.cpuMsPerOp,
      };
    }
  }
  return results;
}

/** (max-min)/median of the rounds, as a %: how noisy this op was. */
function spread(values) {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return NaN;
  return ((Math.max(...v) - Math.min(...v)) / median(v)) * 100;
}

function rows(results) {
  const names = results.targets.map((t) => t.name);
  const header = ['operation', 'unit'];
  for (const n of names) header.push(`${n} thr`, `${n} cpu ms/op`);
  if (names.length === 2) header.push(`thr ×`, `cpu-eff ×`, `≥${TARGET_RATIO}?`);
  header.push('spread %');
  // Latency percentiles (time to response headers per request), when the run recorded them (`nitro-registry bench`).
  const withLatency = results.ops.some((op) => Object.values(op.perTarget).some((pt) => pt.latency));
  if (withLatency) for (const n of names) header.push(`${n} p50/p90/p99 ms`);
  const body = results.ops.map((op) => {
    const row = [op.name, op.unit];
    for (const n of names) {
      const pt = op.perTarget[n];
      if (!pt || (pt.errors.length && !Number.isFinite(pt.median.throughput))) row.push('ERR', 'ERR');
      else row.push(fmt(pt.median.throughput), fmt(pt.median.cpuMsPerOp, pt.median.cpuMsPerOp < 1 ? 3 : undefined));
    }
    if (names.length === 2) {
      const r = op.ratio;
      row.push(fmt(r?.throughput), fmt(r?.cpuEfficiency));
      const met = r && Number.isFinite(r.throughput) ? (r.throughput >= TARGET_RATIO && r.cpuEfficiency >= TARGET_RATIO ? 'yes' : r.throughput >= TARGET_RATIO || r.cpuEfficiency >= TARGET_RATIO ? 'half' : 'no') : '—';
      row.push(met);
    }
    row.push(names.map((n) => fmt(op.perTarget[n]?.spread, 0)).join('/'));
    if (withLatency) {
      for (const n of names) {
        const l = op.perTarget[n]?.latency;
        row.push(l ? [l.p50, l.p90, l.p99].map((x) => fmt(x, x < 10 ? 1 : 0)).join('/') : '—');
      }
    }
    return row;
  });
  return { header, body };
}

export function consoleTable(results) {
  const { header, body } = rows(results);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdown(results) {
  const { header, body } = rows(results);
  const out = [];
  out.push(`# nitro-registry bench — ${results.startedAt}`);
  out.push('');
  out.push(`Targets: ${results.targets.map((t) => `**${t.name}** (${t.kind}, push mode ${t.pushMode ?? '?'})`).join(' vs ')}.`);
  out.push(`Rounds: ${results.config.rounds} (alternating, order flipped each round); medians shown. Machine: ${results.machine.cpus} CPU(s), ${results.machine.cpuModel}, Node ${results.machine.node}, load generator ${results.machine.client}.`);
  out.push('');
  out.push('`thr ×` = B/A throughput; `cpu-eff ×` = A cpu ms/op ÷ B cpu ms/op. Both > 1 mean B is better; target ≥ 1.5.');
  out.push('');
  out.push(`| ${header.join(' | ')} |`);
  out.push(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of body) out.push(`| ${r.join(' | ')} |`);
  const errs = [];
  for (const op of results.ops) for (const [n, pt] of Object.entries(op.perTarget)) for (const e of new Set(pt.errors)) errs.push(`- ${op.name} on ${n}: ${e}`);
  if (errs.length) out.push('', '## Errors', '', ...errs);
  const idle = results.afterRounds;
  if (idle && Object.keys(idle.rssMiB).length) {
    out.push('', `## Memory after the load rounds (RSS after ${idle.idleMs / 1000} s idle)`, '');
    for (const [n, v] of Object.entries(idle.rssMiB)) out.push(`- ${n}: ${v} MiB`);
  }
  if (results.memory && Object.keys(results.memory).length) {
    out.push('', `## Memory (one ${results.config.memSize >> 20} MiB blob pushed then GET)`, '');
    out.push('| target | RSS before MiB | peak RSS push MiB | peak RSS GET MiB | VmHWM MiB | push MiB/s | GET MiB/s |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [n, m] of Object.entries(results.memory)) {
      if (m.error) out.push(`| ${n} | ERR: ${m.error} | | | | | |`);
      else out.push(`| ${n} | ${m.rssBeforeMiB} | ${m.pushPeakRssMiB} | ${m.getPeakRssMiB} | ${m.hwmMiB} | ${m.pushMiBps} | ${m.getMiBps} |`);
    }
  }
  out.push('', '## Setup wall times (ms)', '');
  for (const t of results.targets) out.push(`- ${t.name}: ${Object.entries(t.setup ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || t.setupError || '—'}`);
  out.push('');
  return out.join('\n');
}
