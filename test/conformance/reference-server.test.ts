// Proof (a): the suite passes 100% against the reference server (auth, management API, push rules and GC on).
// Every check must pass or be skipped for a stated reason that this test accepts explicitly.
import t from 'tap';
import { loadConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { detailText } from '../../conformance/src/report/format.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';

/** Checks the reference server may skip, and why. Anything else skipped is a failure of this proof. */
const ALLOWED_SKIPS: Record<string, RegExp> = {};

if (!referenceServerBuilt()) {
  t.test('every check passes against the reference server', { skip: 'reference server not built (npm run build)' }, async () => {});
} else {
  t.test('every check passes against the reference server', async (t) => {
    const ref = await startReferenceServer();
    t.teardown(() => ref.stop());
    const config = await loadConfig({
      url: ref.url,
      env: {
        OCI_USERNAME: ref.admin.username,
        OCI_PASSWORD: ref.admin.password,
        NITRO_GC_TRIGGER: 'nitro-api',
        NITRO_GC_GRACE_SECONDS: '0',
        // The reference server does the optional parts too, so nothing is left to skip.
        NITRO_EXPECT_SHA512: '1',
        NITRO_EXPECT_MOUNT_WITHOUT_FROM: '1',
      },
    });
    const report = await runSuite(config);
    t.ok(report.management.available, 'management API detected', { got: report.management.reason });
    for (const c of report.checks) {
      if (c.outcome === 'skipped') {
        const allowed = ALLOWED_SKIPS[c.id];
        t.ok(allowed?.test(c.reason ?? ''), `${c.id} skipped: ${c.reason}`);
      } else {
        t.equal(c.outcome, 'passed', c.id, { got: c.outcome, details: c.outcome === 'passed' ? undefined : detailText(c).slice(0, 4000) });
      }
    }
    t.ok(report.durationMs < 30_000, `full run took ${report.durationMs} ms`);
  });
}
