/**
 * Replays the curl commands of the quick reference (docs: ../shared/seed/docker-registry-quick-reference.txt)
 * with the real `curl` (and `jq`) binaries against an HTTPS server on 127.0.0.1:0. The commands below are
 * copied verbatim; only `your-nitro-repo.example.com` is replaced by the server's host:port. curl trusts the
 * test's self-signed certificate through CURL_CA_BUNDLE, so the https:// URLs stay as written.
 *
 * The quick reference leaves open how $TOKEN is obtained for its my-project/myapp commands; we obtain it
 * with its own "Test Authentication" command, naming that repository in `scope`.
 */
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { authFixture, basic } from './harness.js';
import { pushAs, uniqueImage } from './client.js';
import { dockerImage } from '../helpers/oci.js';

const HOST = 'your-nitro-repo.example.com';

const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = ['curl', 'jq', 'openssl'].filter((b) => !have(b));

/** The quick reference's commands, verbatim. */
const CHECK_CONNECTIVITY = `curl -I https://your-nitro-repo.example.com/v2/`;
const TEST_AUTHENTICATION = (scope: string) => `# Get auth token
TOKEN=$(curl -X POST "https://your-nitro-repo.example.com/api/auth/token" \\
  -u "username:password" \\
  -d "service=nitro-repo" \\
  -d "scope=${scope}" \\
  | jq -r '.token')

# Use token to test access
curl -H "Authorization: Bearer $TOKEN" \\
     "https://your-nitro-repo.example.com/v2/_catalog"`;
const LIST_TAGS = `# Requires authentication token
curl -H "Authorization: Bearer $TOKEN" \\
     "https://your-nitro-repo.example.com/v2/my-project/myapp/tags/list"`;
const DELETE_IMAGE = `# Get manifest digest first
DIGEST=$(curl -I -H "Authorization: Bearer $TOKEN" \\
  -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \\
  "https://your-nitro-repo.example.com/v2/my-project/myapp/manifests/latest" \\
  | grep -i docker-content-digest | cut -d' ' -f2 | tr -d '\\r')

# Delete by digest
curl -X DELETE -H "Authorization: Bearer $TOKEN" \\
     "https://your-nitro-repo.example.com/v2/my-project/myapp/manifests/$DIGEST"`;
const CHECK_MANIFEST = `# Check manifest
curl -v -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \\
     "https://your-nitro-repo.example.com/v2/myapp/manifests/latest"`;

t.test('quick reference curl commands, verbatim', { skip: missing.length ? `needs ${missing.join(', ')} on PATH` : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-qr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const fx = await authFixture(t, { tls: { cert, key: readFileSync(join(dir, 'key.pem')) } });
  const host = fx.url.replace(/^https:\/\//, '');
  const agent = supertest.agent(fx.url).ca(cert);

  // The quick reference logs in as "username:password"; make that account (an admin, for the GC calls).
  const admin = basic('admin', 'admin-pass:with:colons');
  t.equal((await agent.post('/api/users').set('Authorization', admin).send({ username: 'username', password: 'password', admin: true })).status, 201);
  t.equal((await pushAs(agent, 'myapp', dockerImage(), 'latest', admin)).status, 201);
  t.equal((await pushAs(agent, 'my-project/myapp', dockerImage({ annotations: { x: '1' } }), 'latest', admin)).status, 201);
  t.equal((await pushAs(agent, 'my-project/myapp', uniqueImage(), 'other', admin)).status, 201);

  // Asynchronous on purpose: the server runs in this process and must keep serving while curl runs.
  const run = (script: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', `set -o pipefail\n${script.replaceAll(HOST, host)}`], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CURL_CA_BUNDLE: join(dir, 'cert.pem') },
        timeout: 30_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  const ping = await run(CHECK_CONNECTIVITY);
  t.equal(ping.status, 0, 'curl -I /v2/ runs');
  t.match(ping.stdout, /Docker-Distribution-API-Version: registry\/2\.0/i, 'with the API version header');
  t.match(ping.stdout, /^HTTP\/1\.1 401/, 'auth is on: 401 + challenge (200 with --no-auth)');
  t.match(ping.stdout, /www-authenticate: Bearer realm="https:\/\/127\.0\.0\.1:\d+\/api\/auth\/token",service="nitro-repo"/i);

  const auth = await run(`${TEST_AUTHENTICATION('repository:myapp:pull,push')}\necho\necho "TOKEN_LEN=\${#TOKEN}"`);
  t.equal(auth.status, 0, `Test Authentication runs (${auth.stderr.slice(-200)})`);
  const catalog = JSON.parse(auth.stdout.split('\n')[0]!) as { repositories: string[] };
  t.same(catalog.repositories, ['my-project/myapp', 'myapp'], 'the catalog lists the repositories');
  t.ok(Number(/TOKEN_LEN=(\d+)/.exec(auth.stdout)?.[1]) > 100, 'a real JWT came back');

  const tags = await run(`${TEST_AUTHENTICATION('repository:my-project/myapp:pull,push')} >/dev/null\n${LIST_TAGS}`);
  t.equal(tags.status, 0);
  t.same(JSON.parse(tags.stdout), { name: 'my-project/myapp', tags: ['latest', 'other'] }, 'List Tags');

  const del = await run(`${TEST_AUTHENTICATION('repository:my-project/myapp:pull,push')} >/dev/null\n${DELETE_IMAGE}\necho "DIGEST=$DIGEST"\ncurl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "https://${HOST}/v2/my-project/myapp/manifests/$DIGEST"`);
  t.equal(del.status, 0);
  t.match(del.stdout, /DIGEST=sha256:[a-f0-9]{64}/, 'the digest pipeline extracts the digest');
  t.match(del.stdout, /404$/, 'the manifest is gone after the DELETE');

  const manifest = await run(CHECK_MANIFEST);
  t.equal(manifest.status, 0);
  t.match(manifest.stderr, /< HTTP\/1\.1 200/, 'anonymous manifest check on a public repository: 200');
  t.match(manifest.stdout, /"schemaVersion":\s*2/);
});
