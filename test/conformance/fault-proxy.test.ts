// Proof (c): the suite is seen to fail. Each defect is planted alone by the fault proxy in front of a real
// registry — CNCF Distribution and, when built, the reference server — and the check meant to catch it must
// fail, while the same check passes through the proxy with no defect planted. Coverage: every check of the suite
// is either the target of some defect or in NOT_PLANTABLE with the reason, and every targeted check is seen to fail
// under its defect on at least one upstream.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ALL_CHECKS } from '../../conformance/src/checks/index.js';
import { loadConfig, type SuiteConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { distributionAvailable, startDistribution } from './distribution.js';
import { DEFECTS, NOT_PLANTABLE, startFaultProxy } from './fault-proxy.js';
import { startOidcIssuer } from '../../reference-server/test/helpers/oidc-issuer.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';
import { startTokenGateway } from './token-gateway.js';

const MIN_DEFECTS_CAUGHT = 20;
const caughtIds = new Set<string>();
/** Check ids seen to fail under a defect that targets them (on some upstream). */
const provenChecks = new Set<string>();
const targetedChecks = [...new Set(DEFECTS.flatMap((d) => d.breaks))];
let allUpstreamsRan = true;

interface Upstream {
  name: string;
  available: () => boolean;
  /** Only the checks of these areas run here (the rest is covered by the other upstreams). */
  areas?: string[];
  start: () => Promise<{ url: string; env: Record<string, string>; stop(): Promise<void> }>;
}

const UPSTREAMS: Upstream[] = [
  {
    name: 'CNCF Distribution 2.8',
    available: distributionAvailable,
    start: async () => {
      const d = await startDistribution();
      return { url: d.url, env: { NITRO_EXPECT_REFERRERS: '0' }, stop: () => d.stop() };
    },
  },
  {
    name: 'CNCF Distribution 2.8 behind a token gateway',
    available: distributionAvailable,
    start: async () => {
      const d = await startDistribution();
      const gw = await startTokenGateway(d.url, { tester: 'tester-pass' });
      return {
        url: gw.url,
        env: { NITRO_EXPECT_REFERRERS: '0', OCI_USERNAME: 'tester', OCI_PASSWORD: 'tester-pass' },
        stop: async () => {
          await gw.close();
          await d.stop();
        },
      };
    },
  },
  {
    name: 'reference server',
    available: referenceServerBuilt,
    start: async () => {
      const r = await startReferenceServer();
      return {
        url: r.url,
        env: { OCI_USERNAME: r.admin.username, OCI_PASSWORD: r.admin.password, NITRO_GC_TRIGGER: 'nitro-api' },
        stop: () => r.stop(),
      };
    },
  },
  {
    name: 'reference server trusting a test OIDC issuer',
    available: referenceServerBuilt,
    areas: ['oidc'],
    start: async () => {
      const issuer = await startOidcIssuer();
      const dir = await mkdtemp(join(tmpdir(), 'nitro-fault-oidc-'));
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, `${await issuer.token({ expiresIn: 600 })}\n`, { mode: 0o600 });
      const r = await startReferenceServer({
        authConfig: {
          oidc: [
            {
              issuer: issuer.issuer,
              audience: 'nitro-registry',
              allow_insecure_loopback: true,
              rules: [{ match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: 'acme/app', actions: ['pull', 'push'] }] }],
            },
          ],
        },
      });
      return {
        url: r.url,
        env: {
          OCI_USERNAME: r.admin.username,
          OCI_PASSWORD: r.admin.password,
          NITRO_OIDC_TOKEN_FILE: tokenFile,
          NITRO_OIDC_REPOSITORY: 'acme/app',
          NITRO_OIDC_DENIED_REPOSITORY: 'acme/other',
        },
        stop: async () => {
          await r.stop();
          await issuer.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

for (const up of UPSTREAMS) {
  if (!up.available()) {
    allUpstreamsRan = false;
    t.test(`defects planted in front of ${up.name}`, { skip: `${up.name} not available` }, async () => {});
    continue;
  }
  t.test(`defects planted in front of ${up.name} are caught`, async (t) => {
    const server = await up.start();
    t.teardown(() => server.stop());
    const proxy = await startFaultProxy(server.url);
    t.teardown(() => proxy.close());
    const base = await loadConfig({ url: proxy.url, env: server.env });
    const inScope = (id: string) => !up.areas || up.areas.some((a) => id.startsWith(`${a}/`));
    const targets = targetedChecks.filter(inScope);
    const run = (only: string[]) => runSuite({ ...base, only } satisfies SuiteConfig);

    proxy.plant(undefined);
    const baseline = await run(targets);
    const passing = new Set(baseline.checks.filter((c) => c.outcome === 'passed').map((c) => c.id));

    for (const d of DEFECTS) {
      // A defect may target checks this registry does not pass (an optional feature, an area it cannot set up):
      // it is proven here on the ones it passes, and on the others by another upstream.
      const exercised = d.breaks.filter((id) => inScope(id) && passing.has(id));
      const notPassing = d.breaks.filter((id) => inScope(id) && !passing.has(id));
      if (notPassing.length) t.comment(`defect ${d.id}: ${notPassing.join(', ')} does not pass on ${up.name} even without it`);
      if (!exercised.length) continue;
      proxy.plant(d);
      const rep = await run(exercised);
      proxy.plant(undefined);
      for (const id of exercised) {
        const r = rep.checks.find((c) => c.id === id);
        t.equal(r?.outcome, 'failed', `${d.id} (${d.description}) → ${id} fails`, { got: r?.outcome, reason: r?.reason });
        t.ok((r?.transcript.length ?? 0) > 0, `${id} failure carries an HTTP transcript`);
        if (r?.outcome === 'failed') provenChecks.add(id);
      }
      if (exercised.every((id) => rep.checks.find((c) => c.id === id)?.outcome === 'failed')) caughtIds.add(d.id);
    }
  });
}

t.test('every check of the suite is targeted by a defect or listed as not plantable, with a reason', async (t) => {
  const ids = ALL_CHECKS.map((c) => c.id);
  const targeted = new Set(targetedChecks);
  const uncovered = ids.filter((id) => !targeted.has(id) && !(id in NOT_PLANTABLE));
  t.same(uncovered, [], 'checks with neither a planted defect nor a not-plantable reason (add a defect to DEFECTS, or a reason to NOT_PLANTABLE)');
  const unknown = [...targetedChecks, ...Object.keys(NOT_PLANTABLE)].filter((id) => !ids.includes(id));
  t.same(unknown, [], 'defects and not-plantable entries name existing check ids');
  const both = Object.keys(NOT_PLANTABLE).filter((id) => targeted.has(id));
  t.same(both, [], 'a check listed as not plantable is not also targeted');
  for (const [id, reason] of Object.entries(NOT_PLANTABLE)) t.ok(reason.trim().length >= 20, `${id}: the reason says why`);
});

t.test('every targeted check was seen to fail under its defect', { skip: allUpstreamsRan ? false : 'not every upstream is available here' }, async (t) => {
  t.same(targetedChecks.filter((id) => !provenChecks.has(id)), [], 'targeted checks that no upstream saw fail');
  t.same(DEFECTS.filter((d) => !caughtIds.has(d.id)).map((d) => d.id), [], 'defects exercised nowhere, or not caught');
});

t.test('enough distinct defects were caught', async (t) => {
  t.ok(caughtIds.size >= MIN_DEFECTS_CAUGHT, `${caughtIds.size} distinct defects caught (at least ${MIN_DEFECTS_CAUGHT}) of ${DEFECTS.length} planted`, {
    got: [...caughtIds],
  });
});
