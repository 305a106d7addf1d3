// Write every report format into one directory.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SuiteReport } from '../suite.js';
import { html } from './html.js';
import { junitXml } from './junit.js';
import { markdown } from './markdown.js';
import { tapStream } from './tap.js';

export const REPORT_FILES = {
  json: 'conformance.json',
  junit: 'junit.xml',
  markdown: 'conformance.md',
  html: 'conformance.html',
  tap: 'conformance.tap',
} as const;

export async function writeReports(dir: string, rep: SuiteReport, hideSkipped: boolean): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string]> = [
    [REPORT_FILES.json, JSON.stringify({ ...rep, checks: rep.checks.map(({ tap: _tap, ...c }) => c) }, null, 2) + '\n'],
    [REPORT_FILES.junit, junitXml(rep)],
    [REPORT_FILES.markdown, markdown(rep, hideSkipped)],
    [REPORT_FILES.html, html(rep, hideSkipped)],
    [REPORT_FILES.tap, tapStream(rep)],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
