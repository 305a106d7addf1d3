/**
 * Caps on open upload sessions (issue 12, item 8): per account and per address, 429 TOOMANYREQUESTS with
 * Retry-After, sessions given back on commit, cancel and expiry.
 */
import t from 'tap';
import { randomBlob } from './helpers/oci.js';
import { registryFixture, errorCodes } from './helpers/registry.js';
import { ADMIN, limitsFixture, timed } from './helpers/limits.js';

const open = (url: string, repo: string) => timed([], `${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { Authorization: ADMIN } });

t.test('per account: the cap refuses with 429 + Retry-After; commit, cancel and expiry give sessions back', async (t) => {
  const { url, running, logLines } = await limitsFixture(t, { limits: { upload_sessions_per_account: 3, upload_sessions_per_address: 100 } });
  const sessions: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await open(url, `cap/app${i}`);
    t.equal(r.status, 202, `session ${i + 1} of 3`);
    sessions.push(r.headers.get('location')!);
  }
  const refused = await open(url, 'cap/other');
  t.equal(refused.status, 429, 'the 4th open session is refused');
  t.same(errorCodes(JSON.parse(refused.body.toString())), ['TOOMANYREQUESTS']);
  t.match(refused.headers.get('retry-after'), /^\d+$/, 'with Retry-After');
  const line = logLines.find((l) => l.limit === 'upload_sessions_per_account');
  t.match(line, { level: 40, account: 'admin', cap: 3 }, 'logged once, naming the limit');

  // Monolithic pushes open no lasting session: they are not capped.
  const blob = randomBlob(1000);
  const mono = await timed([], `${url}/v2/cap/app0/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`, {
    method: 'POST',
    headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  t.equal(mono.status, 201, 'a monolithic push still works at the cap');

  // Commit gives one back.
  const b = randomBlob(2000);
  const put = await timed([], `${url}${sessions[0]}?digest=${encodeURIComponent(b.digest)}`, {
    method: 'PUT',
    headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream' },
    body: b.bytes,
  });
  t.equal(put.status, 201);
  const afterCommit = await open(url, 'cap/other');
  t.equal(afterCommit.status, 202, 'a commit frees a session');
  t.equal((await open(url, 'cap/other')).status, 429, 'and only one');

  // Cancel gives one back.
  t.equal((await timed([], `${url}${sessions[1]}`, { method: 'DELETE', headers: { Authorization: ADMIN } })).status, 204);
  t.equal((await open(url, 'cap/other')).status, 202, 'a cancel frees a session');

  // A session finished by another replica (here: removed behind this one's back) is noticed at the cap.
  await running.registry.deps.meta.deleteUpload(sessions[2]!.split('/').pop()!);
  t.equal((await open(url, 'cap/other')).status, 202, 'a session gone from the metadata store no longer counts');

  // Expiry gives them all back.
  const purged = await running.registry.deps.uploads.purgeStale(Date.now() + 1000);
  t.ok(purged >= 3, `purged ${purged} expired sessions`);
  for (let i = 0; i < 3; i++) t.equal((await open(url, `cap/again${i}`)).status, 202, `after expiry: session ${i + 1}`);
  t.equal((await open(url, 'cap/again')).status, 429);
});

t.test('per address: anonymous clients (auth off) are capped by address', async (t) => {
  const f = await registryFixture(t, { limits: { upload_sessions_per_address: 2 } });
  t.equal((await f.request.post('/v2/a/b/blobs/uploads/')).status, 202);
  t.equal((await f.request.post('/v2/a/c/blobs/uploads/')).status, 202);
  const third = await f.request.post('/v2/a/d/blobs/uploads/');
  t.equal(third.status, 429);
  t.same(errorCodes(third.body), ['TOOMANYREQUESTS']);
  t.ok(third.headers['retry-after']);
});

t.test('a cap of 0 turns the limit off', async (t) => {
  const f = await registryFixture(t, { limits: { upload_sessions_per_address: 0 } });
  for (let i = 0; i < 5; i++) t.equal((await f.request.post(`/v2/a/b${i}/blobs/uploads/`)).status, 202);
});

t.test('defaults: one address opening sessions without end is stopped at 200 (the attack of issue 12)', async (t) => {
  const f = await registryFixture(t);
  let opened = 0;
  let refused: { status: number; body: unknown; headers: Record<string, string> } | null = null;
  for (let i = 0; i < 250 && !refused; i++) {
    const r = await f.request.post(`/v2/flood/app/blobs/uploads/`);
    if (r.status === 202) opened++;
    else refused = r;
  }
  t.equal(opened, 200, 'the default per-address cap');
  t.equal(refused?.status, 429);
  t.same(errorCodes(refused?.body), ['TOOMANYREQUESTS']);
});
