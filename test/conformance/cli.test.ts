// The CLI end to end against a tiny fake registry: exit codes, every report format, and no secret in any output.
import { readFile, mkdtemp, rm, readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../conformance/src/cli.js';
import { freePort } from './distribution.js';

const SECRET = 'hunter2-Secret';

/** Answers /v2/ with 200 only to Basic user:SECRET, never sends the API version header. */
async function fakeRegistry(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    const ok = req.headers.authorization === 'Basic ' + Buffer.from(`user:${SECRET}`).toString('base64');
    if (req.url === '/v2/' && ok) return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (req.url?.startsWith('/api/')) return res.writeHead(404).end();
    res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = orig;
  }
}

t.test('`conformance --list | head -1` ends quietly (no EPIPE stack trace)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('/bin/sh', ['-c', `"${process.execPath}" bin/nitro-registry.js conformance --list | head -1`], { encoding: 'utf8' });
  t.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  t.notMatch(r.stderr, /EPIPE|Error/, 'nothing on stderr', { got: r.stderr });
});

t.test('exit codes and reports', async (t) => {
  const reg = await fakeRegistry();
  t.teardown(() => reg.close());
  const dir = await mkdtemp(join(tmpdir(), 'nitro-conf-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const saved = { u: process.env.OCI_USERNAME, p: process.env.OCI_PASSWORD };
  process.env.OCI_USERNAME = 'user';
  process.env.OCI_PASSWORD = SECRET;
  t.teardown(() => {
    process.env.OCI_USERNAME = saved.u;
    process.env.OCI_PASSWORD = saved.p;
    if (saved.u === undefined) delete process.env.OCI_USERNAME;
    if (saved.p === undefined) delete process.env.OCI_PASSWORD;
  });

  t.equal((await capture(() => main(['--bogus']))).code, 2, 'unknown flag → 2');
  t.equal((await capture(() => main(['--url', reg.url, '--only', 'no-such-area']))).code, 2, '--only matching nothing → 2');
  const closed = await freePort();
  t.equal((await capture(() => main(['--url', `http://127.0.0.1:${closed}`, '--only', 'api']))).code, 2, 'unreachable registry → 2');
  const list = await capture(() => main(['--list']));
  t.equal(list.code, 0, '--list → 0');
  t.match(list.out, /push\/chunked\/out-of-order-416\tpull-push\tMUST\t/, '--list shows ids, areas, levels and titles');
  const help = await capture(() => main(['--help']));
  t.equal(help.code, 0);
  for (const w of ['--level', '--ca-cert', '--insecure', 'NODE_EXTRA_CA_CERTS', 'identitytoken', 'Exit codes', 'OCI_USERNAME']) t.match(help.out, w, `--help mentions ${w}`);
  t.equal((await capture(() => main(['--url', 'http://registry.example.com', '--only', 'api']))).code, 2, 'plain HTTP to a remote host → 2');

  const pass = await capture(() => main(['--url', reg.url, '--only', 'api/base/v2-ok']));
  t.equal(pass.code, 0, 'a passing selection exits 0');
  t.match(pass.out, /PASS api\/base\/v2-ok/);
  t.match(pass.out, /conformance: 1 passed, 0 failed, 0 unsupported, 0 skipped/);

  const below = await capture(() => main(['--url', reg.url, '--only', 'api/base,auth/token/expired']));
  t.equal(below.code, 0, 'a SHOULD failure does not fail the run at the default --level must');
  t.match(below.out, /conformance: 1 passed, 0 failed \(\+1 below --level must\), 0 unsupported, 1 skipped/);
  const fail = await capture(() => main(['--url', reg.url, '--only', 'api/base,auth/token/expired', '--level', 'should', '--report-dir', dir]));
  t.equal(fail.code, 1, 'a failing check at --level should exits 1');
  t.match(fail.out, /FAIL api\/base\/version-header \[SHOULD\]/);
  t.match(fail.out, /SKIP auth\/token\/expired .*not Docker token auth/);
  t.notMatch(fail.out, new RegExp(SECRET), 'no secret on stdout');
  t.notMatch(fail.out, /dXNlcjpodW50ZXIy/, 'no base64 credentials on stdout');

  const files = (await readdir(dir)).sort();
  t.same(files, ['conformance.html', 'conformance.json', 'conformance.md', 'conformance.tap', 'junit.xml']);
  for (const f of files) {
    const text = await readFile(join(dir, f), 'utf8');
    t.notMatch(text, new RegExp(SECRET), `${f} has no password`);
    t.notMatch(text, /dXNlcjpodW50ZXIy/, `${f} has no base64 credentials`);
  }
  const json = JSON.parse(await readFile(join(dir, 'conformance.json'), 'utf8'));
  t.equal(json.schema, 'nitro-registry/conformance-report@1');
  t.same(json.summary, { passed: 1, failed: 1, unsupported: 0, skipped: 1, error: 0, total: 3 });
  t.equal(json.level, 'SHOULD');
  t.equal(json.failing, 1);
  const failed = json.checks.find((c: { id: string }) => c.id === 'api/base/version-header');
  t.equal(failed.outcome, 'failed');
  t.match(failed.spec, /API Version Check/);
  t.equal(failed.transcript[0].requestHeaders.authorization, 'Basic <redacted>', 'transcript keeps the scheme, not the secret');
  t.equal(failed.transcript[0].status, 200);
  const junit = await readFile(join(dir, 'junit.xml'), 'utf8');
  t.match(junit, /<testsuites name="nitro-registry conformance" tests="3" failures="1" errors="0" skipped="1"/);
  t.match(junit, /<testcase classname="api" name="api\/base\/version-header"[^>]*>\s*<failure message=/);
  const md = await readFile(join(dir, 'conformance.md'), 'utf8');
  t.match(md, /\| API version & errors \| 1 \| 1 \| 0 \| 0 \| 0 \|/);
  t.match(md, /#### `api\/base\/version-header`/);
  const html = await readFile(join(dir, 'conformance.html'), 'utf8');
  t.match(html, /^<!doctype html>/);
  t.notMatch(html, /<script/i, 'standalone HTML carries no script');
  const tap = await readFile(join(dir, 'conformance.tap'), 'utf8');
  t.match(tap, /^TAP version 14\n/);
  t.match(tap, /not ok 2 - api\/base\/version-header/);
  t.match(tap, /ok 3 - auth\/token\/expired # SKIP/);
});
