/**
 * Entry of the conformance/ sub-action: runs the registry conformance suite (conformance/src) against a
 * registry URL and exposes its reports. The suite writes the job summary itself (GITHUB_STEP_SUMMARY).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@actions/core';
import { main as runConformance } from '../conformance/src/cli.js';
import { parseList } from './lists.js';

async function run(): Promise<void> {
  try {
    const url = core.getInput('url', { required: true }).trim();
    const username = core.getInput('username').trim();
    const password = core.getInput('password', { trimWhitespace: false }); // a password may end in a space
    const reportDir = core.getInput('report-dir').trim() || join(process.env.RUNNER_TEMP || '.', 'nitro-conformance');
    if (password) core.setSecret(password);
    // The suite reads credentials from the environment, never from argv.
    if (username) {
      process.env.OCI_USERNAME = username;
      process.env.OCI_PASSWORD = password;
    }
    const args = ['--url', url, '--report-dir', reportDir];
    const config = core.getInput('config').trim();
    if (config) args.push('--config', config);
    const only = parseList(core.getInput('only'));
    if (only.length) args.push('--only', only.join(','));
    const level = core.getInput('level').trim().toLowerCase() || 'must';
    if (!['must', 'should', 'may'].includes(level)) throw new Error(`input level must be must, should or may, got "${level}"`);
    args.push('--level', level);
    const caCert = core.getInput('ca-cert').trim();
    if (caCert) args.push('--ca-cert', caCert);
    if (core.getBooleanInput('insecure')) args.push('--insecure');

    const code = await runConformance(args);
    core.setOutput('report-dir', reportDir);
    core.setOutput('junit', join(reportDir, 'junit.xml'));
    core.setOutput('report', join(reportDir, 'conformance.json'));
    try {
      const report = JSON.parse(readFileSync(join(reportDir, 'conformance.json'), 'utf8')) as { summary?: Record<string, number>; failing?: number };
      const n = (key: string) => report.summary?.[key] ?? 0;
      core.setOutput('passed', String(n('passed')));
      // What fails the step: failures at the chosen level or stronger, and harness errors.
      core.setOutput('failed', String(report.failing ?? n('failed') + n('error')));
      core.setOutput('unsupported', String(n('unsupported')));
      core.setOutput('skipped', String(n('skipped')));
    } catch {
      // No report (usage or setup error): the exit code below says why.
    }
    if (code === 2) throw new Error(`the conformance suite could not run against ${url} (see the log above)`);
    if (code !== 0) throw new Error(`${url} failed conformance checks (see the job summary and ${join(reportDir, 'junit.xml')})`);
  } catch (err) {
    core.setFailed(err instanceof Error ? err.message : String(err));
  }
}

await run();
