#!/usr/bin/env node
// Reads node-tap's output (the log of `npm test`) and prints, whatever happened:
//   tests: N passed, N failed, N skipped        the plain count line (from tap's "# { total: … }")
//   failing tests (N):                           then one line per failed test, "file › subtest › assertion"
// Only the failures that have no failing child are listed (a file fails because its subtest failed
// because its assertion failed: one line, the whole path). YAML diagnostics are skipped.
// When tap printed no result line (the run died before or during tap), it says so instead of a count.
//
// Usage: node scripts/ci/tap-summary.mjs LOGFILE [--max N]   (exit 0; the caller has npm test's status)
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node scripts/ci/tap-summary.mjs LOGFILE [--max N]\n');
    process.exit(2);
  }
  const max = rest[0] === '--max' ? Number(rest[1]) : 50;
  process.stdout.write(summarize(readFileSync(file, 'utf8').split(/\r?\n/), max));
}

/** The text this script prints for a log's lines (exported for test/ci/ci-scripts.test.ts). */
export function summarize(lines, limit = 50) {
  const counts = countLine(lines);
  const failures = failingTests(lines);
  let out = counts
    ? `tests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped\n`
    : 'tests: tap printed no result line (the test run ended before tap finished; see the log above)\n';
  if (failures.length) {
    out += `failing tests (${failures.length}):\n`;
    // Assertion messages can carry a whole log (t.equal(code, 0, stdout)): keep each line readable.
    for (const f of failures.slice(0, limit)) out += `  ✗ ${f.length > 300 ? `${f.slice(0, 299)}…` : f}\n`;
    if (failures.length > limit) out += `  … and ${failures.length - limit} more\n`;
  }
  return out;
}

function countLine(all) {
  const line = all.filter((l) => l.startsWith('# { total:')).pop();
  if (!line) return undefined;
  const c = Object.fromEntries([...line.matchAll(/(\w+): (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  return { pass: c.pass ?? 0, fail: c.fail ?? 0, skip: (c.skip ?? 0) + (c.todo ?? 0) };
}

function failingTests(all) {
  const names = []; // names[level]: the "# Subtest:" open at that indentation level
  const childFailed = []; // childFailed[level]: a test at this level failed since its parent's "# Subtest:"
  const out = [];
  let yamlIndent = -1;
  for (const raw of all) {
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (yamlIndent >= 0) {
      if (line === '...' && indent === yamlIndent) yamlIndent = -1;
      continue;
    }
    if (line === '---') {
      yamlIndent = indent;
      continue;
    }
    const level = Math.floor(indent / 4);
    const subtest = /^# Subtest: (.*)$/.exec(line);
    if (subtest) {
      names[level] = subtest[1];
      names.length = level + 1;
      childFailed[level + 1] = false;
      continue;
    }
    const notOk = /^not ok \d+ - (.*?)(?: # (?:time|SKIP|TODO)\b.*)?$/.exec(line);
    if (!notOk) continue;
    if (childFailed[level + 1]) {
      // Its failing child was already listed with the full path.
      childFailed[level + 1] = false;
    } else {
      out.push([...names.slice(0, level), notOk[1]].join(' › '));
    }
    childFailed[level] = true;
  }
  return out;
}
