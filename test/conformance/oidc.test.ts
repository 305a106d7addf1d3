// The optional oidc area against the reference server (a child process, trusting the loopback test issuer):
// every check passes with a token command; a token file works too; a rule that grants the "denied"
// repository makes oidc/grant/bounded fail (the check can fail); without a token source the area is skipped
// with the reason; the token never reaches a report.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { detailText } from '../../conformance/src/report/format.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';
import { startOidcIssuer, type TestOidcIssuer } from '../../reference-server/test/helpers/oidc-issuer.js';

const ONLY = ['oidc'];
const oidcAuth = (issuer: TestOidcIssuer, grant: string) => ({
  oidc: [
    {
      issuer: issuer.issuer,
      audience: 'nitro-registry',
      allow_insecure_loopback: true,
      rules: [{ match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: grant, actions: ['pull', 'push'] }] }],
    },
  ],
});

if (!referenceServerBuilt()) {
  t.test('oidc area against the reference server', { skip: 'reference server not built (npm run build)' }, async () => {});
} else {
  const dir = await mkdtemp(join(tmpdir(), 'nitro-conf-oidc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${await issuer.token({ expiresIn: 600 })}\n`, { mode: 0o600 });

  t.test('every oidc check passes against a registry that trusts the issuer (token command and token file)', async (t) => {
    const ref = await startReferenceServer({ authConfig: oidcAuth(issuer, 'acme/app') });
    t.teardown(() => ref.stop());
    for (const source of [{ NITRO_OIDC_TOKEN_COMMAND: `cat '${tokenFile}'` }, { NITRO_OIDC_TOKEN_FILE: tokenFile }]) {
      const config = await loadConfig({
        url: ref.url,
        only: ONLY,
        env: { ...source, NITRO_OIDC_REPOSITORY: 'acme/app', NITRO_OIDC_DENIED_REPOSITORY: 'acme/other', OCI_USERNAME: ref.admin.username, OCI_PASSWORD: ref.admin.password },
      });
      const report = await runSuite(config);
      const oidc = report.checks.filter((c) => c.area === 'oidc');
      t.equal(oidc.length, 5, 'five oidc checks');
      for (const c of oidc) t.equal(c.outcome, 'passed', `${Object.keys(source)[0]}: ${c.id}`, { details: c.outcome === 'passed' ? undefined : detailText(c).slice(0, 3000) });
      const token = (await import('node:fs')).readFileSync(tokenFile, 'utf8').trim();
      t.notOk(JSON.stringify(report).includes(token.split('.')[2]!), 'the OIDC token is in no report');
    }
  });

  t.test('the suite can fail: rules that grant the "denied" repository fail oidc/grant/bounded', async (t) => {
    const ref = await startReferenceServer({ authConfig: oidcAuth(issuer, 'acme/**') });
    t.teardown(() => ref.stop());
    const config = await loadConfig({ url: ref.url, only: ['oidc/grant/bounded'], env: { NITRO_OIDC_TOKEN_FILE: tokenFile, NITRO_OIDC_REPOSITORY: 'acme/app', NITRO_OIDC_DENIED_REPOSITORY: 'acme/other' } });
    const report = await runSuite(config);
    t.equal(report.checks[0]?.outcome, 'failed', 'grant/bounded fails when the registry grants more than the operator said');
    t.equal(report.checks[0]?.failedLevel, 'MUST');
  });

  t.test('without a token source the area is skipped with the reason; a token without repository is a config error', async (t) => {
    const ref = await startReferenceServer();
    t.teardown(() => ref.stop());
    const report = await runSuite(await loadConfig({ url: ref.url, only: ONLY, env: {} }));
    t.equal(report.checks.length, 5);
    for (const c of report.checks) {
      t.equal(c.outcome, 'skipped', c.id);
      t.match(c.reason, /no OIDC token configured/);
    }
    await t.rejects(loadConfig({ url: ref.url, env: { NITRO_OIDC_TOKEN_FILE: tokenFile } }), ConfigError);
    const registryUntrusting = await runSuite(
      await loadConfig({ url: ref.url, only: ['oidc/basic/exchange'], env: { NITRO_OIDC_TOKEN_FILE: tokenFile, NITRO_OIDC_REPOSITORY: 'acme/app' } }),
    );
    t.equal(registryUntrusting.checks[0]?.outcome, 'failed', 'a registry that does not trust the issuer fails the exchange check');
  });
}
