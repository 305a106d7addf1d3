// Proof (b): the suite against CNCF Distribution 2.8 must give exactly the checked-in expected outcomes.
// Regenerate outcomes (keeping hand-written reasons) with NITRO_UPDATE_EXPECTED=1.
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { distributionAvailable, startDistribution, DISTRIBUTION_BIN } from './distribution.js';

type Expected = Record<string, { outcome: string; reason?: string }>;
const EXPECTED_PATH = new URL('./distribution-2.8.expected.json', import.meta.url);

if (!distributionAvailable()) {
  if (process.env.REQUIRE_DISTRIBUTION === '1') t.fail(`${DISTRIBUTION_BIN} not found (REQUIRE_DISTRIBUTION=1)`);
  else t.test('Distribution 2.8 expected results', { skip: `CNCF Distribution not installed at ${DISTRIBUTION_BIN} (apt-get install docker-registry)` }, async () => {});
} else {
  t.test('conformance outcomes against Distribution 2.8 match the expected-results file', async (t) => {
    const dist = await startDistribution();
    t.teardown(() => dist.stop());
    const dir = await mkdtemp(join(tmpdir(), 'nitro-conf-dist-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const cfgPath = join(dir, 'conformance.yml');
    // What Distribution 2.8 documents it does not do is declared, so those checks are skipped with that reason.
    await writeFile(
      cfgPath,
      [
        `url: ${dist.url}`,
        'namespaces: { push: conformance/test, crossmount: conformance/mount }',
        'features:',
        '  referrers: false        # Distribution 2.8 predates OCI 1.1',
        '  delete_by_tag: false    # 2.8 deletes manifests by digest only',
        '  mount_without_from: false',
        '  sha512: false',
        'gc:',
        '  trigger: command',
        `  command: "${dist.gcCommand}"`,
        '  grace_seconds: 0',
        '',
      ].join('\n'),
    );
    const config = await loadConfig({ configPath: cfgPath, env: {} });
    const report = await runSuite(config);
    const expected = JSON.parse(await readFile(EXPECTED_PATH, 'utf8').catch(() => '{}')) as Expected;

    if (process.env.NITRO_UPDATE_EXPECTED === '1') {
      const next: Expected = {};
      for (const c of report.checks) {
        const old = expected[c.id];
        next[c.id] = {
          outcome: c.outcome,
          reason: old?.outcome === c.outcome && old.reason ? old.reason : c.outcome === 'passed' ? undefined : c.reason,
        };
      }
      await writeFile(EXPECTED_PATH, JSON.stringify(next, null, 2) + '\n');
      t.comment(`rewrote ${EXPECTED_PATH.pathname}`);
    }

    const ids = new Set([...Object.keys(expected), ...report.checks.map((c) => c.id)]);
    for (const id of [...ids].sort()) {
      const got = report.checks.find((c) => c.id === id);
      const want = expected[id];
      t.equal(got?.outcome ?? 'absent', want?.outcome ?? 'absent', `${id}: ${want?.outcome ?? 'absent'}`, {
        got: got?.outcome,
        expected: want?.outcome,
        reason: got?.reason,
      });
    }
    t.ok(report.durationMs < 30_000, `full run took ${report.durationMs} ms`);
  });
}
