// The suite passes 100% against the reference server (auth, management API, push rules and GC on), and leaves
// nothing behind: no repository of the run in the catalog, and once GC has run, no blob file the run added.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../conformance/src/config.js';
import { runSuite } from '../../conformance/src/suite.js';
import { detailText } from '../../conformance/src/report/format.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';
import { backendConfig, BLOBS_ON_DISK } from '../../reference-server/test/helpers/backend-matrix.js';
import { startOidcIssuer } from '../../reference-server/test/helpers/oidc-issuer.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

if (!referenceServerBuilt()) {
  t.test('every check passes against the reference server', { skip: 'reference server not built (npm run build)' }, async () => {});
} else {
  t.test('every check passes against the reference server and nothing is left behind', async (t) => {
    // The optional oidc area runs too: the server trusts a loopback test issuer, the suite reads its token from a file.
    const issuer = await startOidcIssuer();
    t.teardown(() => issuer.close());
    const oidcDir = await mkdtemp(join(tmpdir(), 'nitro-conf-ref-oidc-'));
    t.teardown(() => rm(oidcDir, { recursive: true, force: true }));
    await writeFile(join(oidcDir, 'token'), await issuer.token({ expiresIn: 900 }), { mode: 0o600 });
    const oidc = [
      {
        issuer: issuer.issuer,
        audience: 'nitro-registry',
        allow_insecure_loopback: true,
        rules: [{ match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: 'acme/app', actions: ['pull', 'push'] }] }],
      },
    ];
    const ref = await startReferenceServer({ config: await backendConfig(t), authConfig: { oidc } });
    t.teardown(() => ref.stop());
    const basic = 'Basic ' + Buffer.from(`${ref.admin.username}:${ref.admin.password}`).toString('base64');
    const blobsBefore = await countFiles(join(ref.dataDir, 'blobs'));
    const config = await loadConfig({
      url: ref.url,
      env: {
        OCI_USERNAME: ref.admin.username,
        OCI_PASSWORD: ref.admin.password,
        NITRO_GC_GRACE_SECONDS: '0',
        NITRO_OIDC_TOKEN_FILE: join(oidcDir, 'token'),
        NITRO_OIDC_REPOSITORY: 'acme/app',
        NITRO_OIDC_DENIED_REPOSITORY: 'acme/other',
      },
    });
    const report = await runSuite(config);
    t.equal(report.setup.adapter, 'nitro-api', 'management API detected', { got: report.setup.reason });
    for (const c of report.checks) {
      t.equal(c.outcome, 'passed', c.id, { got: c.outcome, details: c.outcome === 'passed' ? undefined : detailText(c).slice(0, 4000) });
    }
    t.comment(`full run: ${report.durationMs} ms (target < 10 s on 2 cores; measured, not asserted)`);

    t.same([...report.cleanup.leftovers, ...report.cleanup.setup], [], 'the report lists nothing left behind');
    // Check from the outside too: the catalog, the repositories, then the storage once GC has collected.
    const token = await fetch(`${ref.url}/api/auth/token?service=nitro-repo&scope=registry:catalog:*`, { headers: { authorization: basic } }).then((r) => r.json() as Promise<{ token: string }>);
    const catalog = await fetch(`${ref.url}/v2/_catalog?n=10000`, { headers: { authorization: `Bearer ${token.token}` } }).then((r) => r.json() as Promise<{ repositories: string[] }>);
    t.same(catalog.repositories.filter((r) => r.includes(report.runId)), [], 'no repository of the run is left in the catalog');
    const repos = (await fetch(`${ref.url}/api/repository`, { headers: { authorization: basic } }).then((r) => r.json())) as Array<{ id: string; name: string }>;
    t.same(repos.map((r) => r.name), ['default'], 'every Nitro repository the run created is deleted');
    for (const r of repos) {
      const gc = await fetch(`${ref.url}/api/repository/${r.id}/gc`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ delete_untagged: true, grace_seconds: 0 }) });
      t.equal(gc.status, 200, `GC of ${r.name}`);
      await gc.arrayBuffer();
    }
    if (BLOBS_ON_DISK) t.equal(await countFiles(join(ref.dataDir, 'blobs')), blobsBefore, 'after GC the blob store holds no file the run added');
  });
}
