// CI hygiene: .ci/run and scripts/ci/*.sh. Every apt-get waits for the package manager's locks; a failed
// check does not stop the remaining checks, the run still prints each stage's duration, the test count
// line and the failing tests' names, and exits non-zero at the end; a failed setup stage stops the run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
// @ts-expect-error: a plain .mjs script without type declarations
import { summarize } from '../../scripts/ci/tap-summary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const scripts = ['.ci/run', ...readdirSync(join(root, 'scripts/ci')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/ci/${f}`)];

t.test('every apt-get goes through apt_get (common.sh), which waits for the dpkg and lists locks', async (t) => {
  const raw: string[] = [];
  for (const file of scripts) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    let inAptGet = false;
    lines.forEach((line, i) => {
      const code = line.replace(/(^|\s)#.*$/, '');
      if (file === 'scripts/ci/common.sh' && /^apt_get\(\) \{/.test(line)) inAptGet = true;
      if (inAptGet && line === '}') inAptGet = false;
      if (/\bapt-get\b/.test(code) && !inAptGet) raw.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  t.same(raw, [], 'no apt-get outside apt_get');
  const common = readFileSync(join(root, 'scripts/ci/common.sh'), 'utf8');
  t.match(common, /apt-get -o DPkg::Lock::Timeout="\$APT_LOCK_WAIT" "\$@"/, 'apt_get passes DPkg::Lock::Timeout');
  t.match(common, /Could not get lock/, 'and retries while another run holds a lock apt-get does not wait for');
});

/** Runs a bash script that sources common.sh and stages.sh; returns its exit code and output. */
function runStages(body: string) {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-stages-'));
  try {
    const file = join(dir, 'run.sh');
    writeFileSync(file, `set -Eeuo pipefail\n. ${join(root, 'scripts/ci/common.sh')}\n. ${join(root, 'scripts/ci/stages.sh')}\n${body}\n`);
    const r = spawnSync('bash', [file], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a failed check is recorded, the next checks still run, and the run ends non-zero with the summary', async (t) => {
  const r = runStages(`
setup() { stage_export GREETING=hello; }
tests() { echo "tests ran"; false; echo "MUST NOT PRINT: a failing command ends the stage"; }
later() { echo "later check sees $GREETING"; stage_note "tests: 3 passed, 1 failed, 0 skipped"; }
stage "setup" setup
check "tests" tests
check "dist" later
finish`);
  t.equal(r.code, 1, 'exit status is non-zero because a check failed');
  t.match(r.out, /tests ran/);
  t.notMatch(r.out, /MUST NOT PRINT/, 'errexit works inside a stage');
  t.match(r.out, /later check sees hello/, 'the check after the failed one ran, with what setup exported');
  t.match(r.out, /=== \[1\] setup: ok in \d+\.\ds \(elapsed \d+\.\ds\)/, 'each banner shows the stage duration');
  t.match(r.out, /=== \[2\] tests: FAILED \(exit 1\) in \d+\.\ds/);
  t.match(r.out, /=== summary \(total \d+\.\ds\)\n\s+ok\s+\d+\.\ds\s+setup\n\s+FAILED \(exit 1\)\s+\d+\.\ds\s+tests\n\s+ok\s+\d+\.\ds\s+dist\n/);
  t.equal(r.out.trimEnd().split('\n').pop(), 'tests: 3 passed, 1 failed, 0 skipped', 'the count line closes the output');
});

t.test('a failed setup stage stops the run at once, with the summary', async (t) => {
  const r = runStages(`
broken() { echo "installing"; return 3; }
never() { echo "MUST NOT RUN"; }
stage "packages" broken
check "tests" never
finish`);
  t.equal(r.code, 1);
  t.notMatch(r.out, /MUST NOT RUN/);
  t.match(r.out, /packages: FAILED \(exit 3\)/);
  t.match(r.out, /a setup stage failed: the stages after it cannot run/);
  t.match(r.out, /=== summary/);
});

t.test('all green: exit 0', async (t) => {
  const r = runStages(`ok1() { :; }\nstage "a" ok1\ncheck "b" ok1\nfinish`);
  t.equal(r.code, 0, r.out + r.err);
});

t.test('.ci/run: tests and the dist check are checks, so a test failure still runs the dist check', async (t) => {
  const run = readFileSync(join(root, '.ci/run'), 'utf8');
  t.match(run, /^check "npm test" npm_test$/m);
  t.match(run, /^check "dist\/ is current" dist_current$/m);
  t.ok(run.indexOf('check "npm test"') < run.indexOf('check "dist/ is current"'));
  t.match(run, /^finish$/m);
  t.match(run, /tap-summary\.mjs/, 'the tests stage prints the count and the failing tests whatever npm test returned');
});

t.test('tap-summary: the count line, and the failing tests by their full path (diagnostics ignored)', async (t) => {
  const log = [
    '# Subtest: test/a.test.ts',
    '    # Subtest: group',
    '        ok 1 - fine',
    '        not ok 2 - should be equal',
    '          ---',
    '          source: |',
    '            not ok 9 - inside a diagnostic, not a test',
    '          ...',
    '        1..2',
    '    not ok 1 - group # time=3ms',
    '    # Subtest: other',
    '        ok 1 - fine',
    '    ok 2 - other # time=1ms',
    'not ok 1 - test/a.test.ts # time=4ms',
    '# Subtest: test/crashed.test.ts',
    'not ok 2 - test/crashed.test.ts # time=1ms',
    '  ---',
    '  signal: SIGKILL',
    '  ...',
    'ok 3 - test/c.test.ts # SKIP no Docker engine',
    '# { total: 9, pass: 5, fail: 2, skip: 1, todo: 1 }',
  ];
  t.equal(summarize(log), 'tests: 5 passed, 2 failed, 2 skipped\nfailing tests (2):\n  ✗ test/a.test.ts › group › should be equal\n  ✗ test/crashed.test.ts\n');
  t.equal(summarize(['# { total: 3, pass: 3 }']), 'tests: 3 passed, 0 failed, 0 skipped\n');
  t.match(summarize(['npm ERR! build failed']), /^tests: tap printed no result line/, 'no invented count when tap did not finish');
  const many = Array.from({ length: 60 }, (_, i) => `not ok ${i + 1} - test/f${i}.test.ts`);
  t.match(summarize(many, 50), /failing tests \(60\):[\s\S]*… and 10 more\n$/);
  const long = summarize([`not ok 1 - ${'x'.repeat(1000)}`]).split('\n')[2];
  t.equal(long.length, '  ✗ '.length + 300, 'a failing test with a huge message is cut to 300 characters');
});
