// Proof (c): the suite is seen to fail. Each defect is planted alone by the fault proxy in front of a real
// registry — CNCF Distribution and, when built, the reference server — and the check meant to catch it must
// fail, while the same check passes through the proxy with no defect planted.
import t from 'tap';
import { loadConfig, type SuiteConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { distributionAvailable, startDistribution } from './distribution.js';
import { DEFECTS, startFaultProxy } from './fault-proxy.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';
import { startTokenGateway } from './token-gateway.js';

const MIN_DEFECTS_CAUGHT = 20;
const caughtIds = new Set<string>();

interface Upstream {
  name: string;
  available: () => boolean;
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
];

for (const up of UPSTREAMS) {
  if (!up.available()) {
    t.test(`defects planted in front of ${up.name}`, { skip: `${up.name} not available` }, async () => {});
    continue;
  }
  t.test(`defects planted in front of ${up.name} are caught`, async (t) => {
    const server = await up.start();
    t.teardown(() => server.stop());
    const proxy = await startFaultProxy(server.url);
    t.teardown(() => proxy.close());
    const base = await loadConfig({ url: proxy.url, env: server.env });
    const targets = [...new Set(DEFECTS.flatMap((d) => d.breaks))];
    const run = (only: string[]) => runSuite({ ...base, only } satisfies SuiteConfig);

    proxy.plant(undefined);
    const baseline = await run(targets);
    const passing = new Set(baseline.checks.filter((c) => c.outcome === 'passed').map((c) => c.id));

    for (const d of DEFECTS) {
      const notPassing = d.breaks.filter((id) => !passing.has(id));
      if (notPassing.length) {
        t.comment(`defect ${d.id} not exercised here: ${notPassing.join(', ')} does not pass on ${up.name} even without it`);
        continue;
      }
      proxy.plant(d);
      const rep = await run(d.breaks);
      proxy.plant(undefined);
      for (const id of d.breaks) {
        const r = rep.checks.find((c) => c.id === id);
        t.equal(r?.outcome, 'failed', `${d.id} (${d.description}) → ${id} fails`, { got: r?.outcome, reason: r?.reason });
        t.ok((r?.transcript.length ?? 0) > 0, `${id} failure carries an HTTP transcript`);
      }
      if (d.breaks.every((id) => rep.checks.find((c) => c.id === id)?.outcome === 'failed')) caughtIds.add(d.id);
    }
  });
}

t.test('enough distinct defects were caught', async (t) => {
  t.ok(caughtIds.size >= MIN_DEFECTS_CAUGHT, `${caughtIds.size} distinct defects caught (at least ${MIN_DEFECTS_CAUGHT}) of ${DEFECTS.length} planted`, {
    got: [...caughtIds],
  });
});
