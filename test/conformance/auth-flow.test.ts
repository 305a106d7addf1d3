// The auth checks against a known-good token flow: CNCF Distribution behind an independent token gateway.
// Every auth check that needs no management API must pass; the three that do are skipped with that reason.
import t from 'tap';
import { loadConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { detailText } from '../../conformance/src/report/format.js';
import { distributionAvailable, startDistribution } from './distribution.js';
import { startTokenGateway } from './token-gateway.js';

if (!distributionAvailable()) {
  t.test('auth checks against a token-auth Distribution', { skip: 'CNCF Distribution not installed (/usr/bin/docker-registry)' }, async () => {});
} else {
  t.test('auth checks pass against Distribution behind a token gateway', async (t) => {
    const dist = await startDistribution();
    t.teardown(() => dist.stop());
    const gw = await startTokenGateway(dist.url, { tester: 'p@ss:word' });
    t.teardown(() => gw.close());
    const config = await loadConfig({ url: gw.url, only: ['auth', 'api/base', 'push/chunked/in-order', 'shapes/large-layer'], env: { OCI_USERNAME: 'tester', OCI_PASSWORD: 'p@ss:word', NITRO_LARGE_LAYER_MIB: '4' } });
    const report = await runSuite(config);
    for (const c of report.checks) {
      if (['auth/token/scope-downgrade', 'auth/token/expired', 'auth/password/colon'].includes(c.id)) {
        t.equal(c.outcome, 'skipped', `${c.id} skipped: ${c.reason}`);
        t.match(c.reason, /setup adapter/);
      } else {
        t.equal(c.outcome, 'passed', c.id, { got: c.outcome, details: c.outcome === 'passed' ? undefined : detailText(c).slice(0, 3000) });
      }
    }
    t.equal(report.checks.filter((c) => c.area === 'auth').length, 14, 'all 14 auth checks ran');
  });
}
