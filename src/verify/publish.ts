import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { renderSummary } from '../summary.js';
import { platformDigests, tagDigests, type VerifyReport } from './report.js';
import { writeReport } from './run-verification.js';

/** One file per step, so two verifications in one job do not overwrite each other's report. */
export function defaultReportPath(env: NodeJS.ProcessEnv = process.env): string {
  const step = (env.GITHUB_ACTION || String(process.pid)).replace(/[^\w.-]/g, '_');
  return join(env.RUNNER_TEMP || tmpdir(), `nitro-registry-verification-${step}.json`);
}

/**
 * Makes a report visible: the JSON file, the outputs, the job summary, and an annotation per failure
 * (error) and warning. Values here are digests and image names, never secrets: nothing is masked.
 */
export async function publishReport(report: VerifyReport, reportPath: string): Promise<void> {
  const path = reportPath || defaultReportPath();
  writeReport(path, report);
  core.setOutput('report', path);
  core.setOutput('verified', String(report.ok));
  core.setOutput('tag-digests', JSON.stringify(tagDigests(report)));
  core.setOutput('platform-digests', JSON.stringify(platformDigests(report)));
  for (const f of report.failures) {
    core.error(f.message, { title: `Image verification: ${f.code}` });
  }
  for (const w of report.warnings) core.warning(w, { title: 'Image verification' });
  if (process.env.GITHUB_STEP_SUMMARY) {
    await core.summary.addRaw(renderSummary(report), true).write();
  } else {
    core.info(renderSummary(report));
  }
  core.info(`Verification report: ${path}`);
}

/** The error that fails the step: counts and the first failure, details are in annotations. */
export function verificationError(report: VerifyReport): Error {
  const first = report.failures[0];
  return new Error(`Image verification failed with ${report.failures.length} problem(s); first: ${first ? `[${first.code}] ${first.message}` : 'unknown'}`);
}
