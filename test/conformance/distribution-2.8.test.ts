// The suite against CNCF Distribution 2.8, twice: a bare `--url` run (nothing declared: features are probed, no
// setup) and the token-auth setup (token-issuer.ts + setup hooks + offline GC behind the gc hook). Each must give
// exactly the checked-in outcomes; every difference from "passed" carries its reason in the expected file.
// Regenerate outcomes (keeping hand-written reasons) with NITRO_UPDATE_EXPECTED=1.
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig, type SuiteConfig } from '../../conformance/src/config.js';
import { runSuite, type SuiteReport } from '../../conformance/src/suite.js';
import { distributionAvailable, startDistribution, DISTRIBUTION_BIN } from './distribution.js';
import { hooksYaml, ISSUER, SERVICE, startTokenIssuer } from './token-issuer.js';

type Expected = Record<string, { outcome: string; level?: string; reason?: string }>;

async function compare(t: Test, report: SuiteReport, file: URL): Promise<void> {
  const expected = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Expected;
  if (process.env.NITRO_UPDATE_EXPECTED === '1') {
    const next: Expected = {};
    for (const c of report.checks) {
      const old = expected[c.id];
      next[c.id] = {
        outcome: c.outcome,
        ...(c.outcome === 'failed' ? { level: c.failedLevel } : {}),
        reason: old?.outcome === c.outcome && old.reason ? old.reason : c.outcome === 'passed' ? undefined : c.reason,
      };
    }
    await writeFile(file, JSON.stringify(next, null, 2) + '\n');
    t.comment(`rewrote ${file.pathname}`);
  }
  const ids = new Set([...Object.keys(expected), ...report.checks.map((c) => c.id)]);
  for (const id of [...ids].sort()) {
    const got = report.checks.find((c) => c.id === id);
    const want = expected[id];
    const gotKey = got ? got.outcome + (got.outcome === 'failed' ? ` ${got.failedLevel}` : '') : 'absent';
    const wantKey = want ? want.outcome + (want.outcome === 'failed' ? ` ${want.level}` : '') : 'absent';
    t.equal(gotKey, wantKey, `${id}: ${wantKey}`, { reason: got?.reason });
    if (want && want.outcome !== 'passed') t.ok(want.reason, `${id}: the expected file explains "${want.outcome}"`);
  }
  t.same(report.cleanup.leftovers, [], 'everything the run pushed was deleted through /v2/');
}


if (!distributionAvailable()) {
  if (process.env.REQUIRE_DISTRIBUTION === '1') t.fail(`${DISTRIBUTION_BIN} not found (REQUIRE_DISTRIBUTION=1)`);
  else t.test('Distribution 2.8 expected results', { skip: `CNCF Distribution not installed at ${DISTRIBUTION_BIN} (apt-get install docker-registry)` }, async () => {});
} else {
  t.test('bare --url against Distribution 2.8: outcomes as expected, no failure but real MUST violations', async (t) => {
    const dist = await startDistribution();
    t.teardown(() => dist.stop());
    const config = await loadConfig({ url: dist.url, env: {} });
    const report = await runSuite(config);
    await compare(t, report, new URL('./distribution-2.8.expected.json', import.meta.url));
    for (const c of report.checks) {
      if (c.outcome === 'error') t.fail(`${c.id}: harness error ${c.reason}`);
      if (c.outcome === 'skipped' || c.outcome === 'unsupported') t.ok(c.reason && c.reason.length > 10, `${c.id} ${c.outcome} with a reason`);
    }
  });

  t.test('token-auth Distribution 2.8 (test issuer, setup hooks, offline GC hook): auth area runs', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'nitro-dist-token-'));
    const issuer = await startTokenIssuer(dir, { username: 'tester', password: 'p@ss:word' });
    const dist = await startDistribution({ dir, token: { realm: issuer.realm, service: SERVICE, issuer: ISSUER, certPath: issuer.certPath } });
    t.teardown(async () => {
      await dist.stop();
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    });
    const cfg = join(dir, 'conformance.yml');
    await writeFile(cfg, `url: ${dist.url}\ncredentials: { username: tester, password: "p@ss:word" }\n` + hooksYaml(issuer, dist.gcCommand));
    const config: SuiteConfig = await loadConfig({ configPath: cfg, env: {} });
    const report = await runSuite(config);
    t.equal(report.setup.adapter, 'hooks');
    const auth = report.checks.filter((c) => c.area === 'auth');
    t.equal(auth.filter((c) => c.outcome === 'passed').length, auth.length, 'every auth check runs and passes against the issuer', {
      got: auth.filter((c) => c.outcome !== 'passed').map((c) => `${c.id}: ${c.outcome} ${c.reason}`),
    });
    await compare(t, report, new URL('./distribution-2.8-token.expected.json', import.meta.url));
  });
}
