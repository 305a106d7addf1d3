// `nitro-registry conformance --url URL [--config FILE] [--only AREA|ID,…] [--report-dir DIR] [--list]`
// Exit codes: 0 all selected checks passed or were skipped; 1 a check failed or errored; 2 usage or setup problem.
import { appendFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { ALL_CHECKS } from './checks/index.js';
import { selected } from './harness/runner.js';
import { progressLine, summaryText } from './report/human.js';
import { markdown } from './report/markdown.js';
import { writeReports } from './report/write.js';
import { runSuite } from './suite.js';

const USAGE = `usage: nitro-registry conformance --url URL [--config conformance.yml] [--only AREA|CHECK-ID,…] [--report-dir DIR] [--list]
Areas: api, pull-push, discovery, content, shapes, auth, rules, gc. Environment variables: see conformance/README.md.`;

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        config: { type: 'string', short: 'c' },
        only: { type: 'string' },
        'report-dir': { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (args.list) {
    for (const c of ALL_CHECKS) process.stdout.write(`${c.id}\t${c.area}\t${c.title}\n`);
    return 0;
  }
  let config;
  try {
    config = await loadConfig({
      configPath: args.config,
      url: args.url,
      only: args.only ? args.only.split(',') : undefined,
      reportDir: args['report-dir'],
    });
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const unknown = config.only.filter((f) => !ALL_CHECKS.some((c) => selected(c, [f])));
  if (unknown.length) {
    process.stderr.write(`conformance: --only ${unknown.join(',')} matches no area or check id (see --list)\n`);
    return 2;
  }
  let report;
  try {
    report = await runSuite(config, {
      onResult: (r) => {
        const line = progressLine(r, config.hideSkipped);
        if (line) process.stdout.write(line + '\n');
      },
    });
  } catch (e) {
    process.stderr.write(`conformance: cannot run against ${config.url}: ${(e as Error).message}\n`);
    return 2;
  }
  process.stdout.write(summaryText(report));
  if (config.reportDir) {
    const files = await writeReports(config.reportDir, report, config.hideSkipped);
    process.stdout.write(`reports: ${files.join(', ')}\n`);
  }
  if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, markdown(report, config.hideSkipped));
  const s = report.summary;
  // The plain closing line CI log readers understand.
  process.stdout.write(`conformance: ${s.passed} passed, ${s.failed + s.error} failed, ${s.skipped} skipped\n`);
  return s.failed + s.error > 0 ? 1 : 0;
}
