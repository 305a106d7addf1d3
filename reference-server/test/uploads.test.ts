/**
 * Blob uploads: sessions, monolithic, streamed and chunked PATCH, status, finish with and without a
 * final chunk, cancel, cross-repository mount, restart survival, expiry, sha512.
 */
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import { registryFixture, errorCodes, getRaw, pushBlob, type RegistryFixture } from './helpers/registry.js';
import { randomBlob } from './helpers/oci.js';

const UUID_PATH = /^\/v2\/ns\/app\/blobs\/uploads\/([a-zA-Z0-9-]+)$/;

async function startSession(fx: RegistryFixture, repo = 'ns/app'): Promise<string> {
  const res = await fx.request.post(`/v2/${repo}/blobs/uploads/`);
  if (res.status !== 202) throw new Error(`POST session → ${res.status}`);
  return res.headers.location as string;
}

const patch = (fx: RegistryFixture, location: string, bytes: Buffer, range?: [number, number]) => {
  const req = fx.request.patch(location).set('Content-Type', 'application/octet-stream');
  if (range) req.set('Content-Range', `${range[0]}-${range[1]}`);
  return req.send(bytes);
};

const finish = (fx: RegistryFixture, location: string, digest: string, body?: Buffer, range?: [number, number]) => {
  const req = fx.request.put(`${location}?digest=${encodeURIComponent(digest)}`).set('Content-Type', 'application/octet-stream');
  if (range) req.set('Content-Range', `${range[0]}-${range[1]}`);
  return body ? req.send(body) : req;
};

async function assertStored(t: Test, fx: RegistryFixture, repo: string, bytes: Buffer, digest: string) {
  const get = await getRaw(fx.request, `/v2/${repo}/blobs/${digest}`);
  t.equal(get.status, 200, 'blob readable');
  t.ok((get.body as Buffer).equals(bytes), 'blob bytes are the uploaded bytes');
}

t.test('POST opens a session: 202, Location, Range, Docker-Upload-UUID, OCI-Chunk-Min-Length', async (t) => {
  const fx = await registryFixture(t, { uploads: { chunk_min_length: 4096 } });
  const res = await fx.request.post('/v2/ns/app/blobs/uploads/');
  t.equal(res.status, 202);
  const m = UUID_PATH.exec(res.headers.location ?? '');
  t.ok(m, `Location is the session URL: ${res.headers.location}`);
  t.equal(res.headers['docker-upload-uuid'], m?.[1], 'Docker-Upload-UUID names the session');
  t.equal(res.headers.range, '0-0');
  t.equal(res.headers['oci-chunk-min-length'], '4096');
  t.equal(res.headers['content-length'], '0');
});

t.test('monolithic POST ?digest= → 201; a wrong digest → 400 DIGEST_INVALID and nothing stored', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(70_000);
  const ok = await pushBlob(fx.request, 'ns/app', blob);
  t.equal(ok.status, 201);
  t.equal(ok.headers.location, `/v2/ns/app/blobs/${blob.digest}`);
  t.equal(ok.headers['docker-content-digest'], blob.digest);
  await assertStored(t, fx, 'ns/app', blob.bytes, blob.digest);

  const other = randomBlob(100);
  const bad = await fx.request
    .post(`/v2/ns/app/blobs/uploads/?digest=${randomBlob(1).digest}`)
    .set('Content-Type', 'application/octet-stream')
    .send(other.bytes);
  t.equal(bad.status, 400);
  t.same(errorCodes(bad.body), ['DIGEST_INVALID']);
  t.equal((await fx.request.head(`/v2/ns/app/blobs/${other.digest}`)).status, 404, 'the mismatching bytes are not a blob');

  const malformed = await fx.request.post('/v2/ns/app/blobs/uploads/?digest=sha256:nope').send(Buffer.from('x'));
  t.equal(malformed.status, 400);
  t.same(errorCodes(malformed.body), ['DIGEST_INVALID']);
  const left = await fx.registry.deps.meta.staleUploads(Date.now() + 60_000);
  t.same(left, [], 'failed monolithic uploads leave no session behind');
});

t.test('streamed PATCH then PUT without a body', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(300_000);
  const loc = await startSession(fx);
  const p = await patch(fx, loc, blob.bytes);
  t.equal(p.status, 202);
  t.equal(p.headers.range, `0-${blob.size - 1}`);
  t.equal(p.headers.location, loc);
  const put = await finish(fx, loc, blob.digest);
  t.equal(put.status, 201);
  t.equal(put.headers.location, `/v2/ns/app/blobs/${blob.digest}`);
  t.equal(put.headers['docker-content-digest'], blob.digest);
  await assertStored(t, fx, 'ns/app', blob.bytes, blob.digest);
  const after = await fx.request.get(loc);
  t.equal(after.status, 404, 'the session is gone once finished');
  t.same(errorCodes(after.body), ['BLOB_UPLOAD_UNKNOWN']);
});

t.test('chunked PATCH with Content-Range; out-of-order and overlapping → 416, session still usable', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(1000);
  const b = blob.bytes;
  const loc = await startSession(fx);

  const c1 = await patch(fx, loc, b.subarray(0, 300), [0, 299]);
  t.equal(c1.status, 202);
  t.equal(c1.headers.range, '0-299');

  const gap = await patch(fx, loc, b.subarray(400, 500), [400, 499]);
  t.equal(gap.status, 416, 'a gap is refused');
  t.same(errorCodes(gap.body), ['BLOB_UPLOAD_INVALID']);
  t.equal(gap.headers.range, '0-299', '416 tells the client where to resume');
  t.equal(gap.headers.location, loc);

  const overlap = await patch(fx, loc, b.subarray(200, 400), [200, 399]);
  t.equal(overlap.status, 416, 'an overlap is refused');

  const status = await fx.request.get(loc);
  t.equal(status.status, 204, 'status after refusals');
  t.equal(status.headers.range, '0-299', 'refused chunks wrote nothing');
  t.equal(status.headers.location, loc);
  t.equal(status.headers['docker-upload-uuid'], UUID_PATH.exec(loc)?.[1]);

  const c2 = await patch(fx, loc, b.subarray(300, 800), [300, 799]);
  t.equal(c2.status, 202, 'the session is still usable');
  t.equal(c2.headers.range, '0-799');

  // The final chunk on PUT obeys the same rule (the redesigned OCI conformance suite checks it).
  const badPut = await finish(fx, loc, blob.digest, b.subarray(900), [900, 999]);
  t.equal(badPut.status, 416, 'a final chunk after a gap is refused');
  t.equal(badPut.headers.range, '0-799', 'and tells the client where to resume');
  t.equal((await fx.request.get(loc)).headers.range, '0-799', 'the session kept its bytes');

  const put = await finish(fx, loc, blob.digest, b.subarray(800), [800, 999]);
  t.equal(put.status, 201, 'PUT with a final chunk');
  await assertStored(t, fx, 'ns/app', b, blob.digest);
});

t.test('Content-Length that disagrees with Content-Range is refused and leaves the session intact', async (t) => {
  const fx = await registryFixture(t);
  const loc = await startSession(fx);
  const res = await fx.request.patch(loc).set('Content-Range', '0-99').send(Buffer.alloc(50));
  t.equal(res.status, 416);
  const status = await fx.request.get(loc);
  t.equal(status.status, 204);
  t.equal(status.headers.range, '0-0');
  const malformed = await fx.request.patch(loc).set('Content-Range', 'garbage').send(Buffer.alloc(5));
  t.ok(malformed.status === 416 || malformed.status === 400, `malformed Content-Range → ${malformed.status}`);
});

t.test('PUT with a wrong digest → 400 DIGEST_INVALID; missing digest → 400', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(500);
  const loc = await startSession(fx);
  await patch(fx, loc, blob.bytes);
  const missing = await fx.request.put(loc);
  t.equal(missing.status, 400, 'no digest parameter');
  t.same(errorCodes(missing.body), ['DIGEST_INVALID']);
  const wrong = await finish(fx, loc, randomBlob(500).digest);
  t.equal(wrong.status, 400);
  t.same(errorCodes(wrong.body), ['DIGEST_INVALID']);
  t.equal((await fx.request.head(`/v2/ns/app/blobs/${blob.digest}`)).status, 404, 'nothing committed');
});

t.test('DELETE cancels: 204, then 404 BLOB_UPLOAD_UNKNOWN everywhere', async (t) => {
  const fx = await registryFixture(t);
  const loc = await startSession(fx);
  await patch(fx, loc, Buffer.from('some bytes'));
  const del = await fx.request.delete(loc);
  t.equal(del.status, 204);
  for (const [name, res] of [
    ['GET', await fx.request.get(loc)],
    ['PATCH', await patch(fx, loc, Buffer.from('x'))],
    ['PUT', await finish(fx, loc, randomBlob(1).digest)],
    ['DELETE', await fx.request.delete(loc)],
  ] as const) {
    t.equal(res.status, 404, `${name} after cancel`);
    t.same(errorCodes(res.body), ['BLOB_UPLOAD_UNKNOWN'], `${name} code`);
  }
});

t.test('a session belongs to its repository; unknown and malformed ids are 404', async (t) => {
  const fx = await registryFixture(t);
  const loc = await startSession(fx);
  const id = UUID_PATH.exec(loc)![1];
  const other = await fx.request.get(`/v2/other/repo/blobs/uploads/${id}`);
  t.equal(other.status, 404);
  t.same(errorCodes(other.body), ['BLOB_UPLOAD_UNKNOWN']);
  for (const bad of ['00000000-0000-0000-0000-000000000000', 'x', '..%2F..%2Fregistry.db', 'a'.repeat(200)]) {
    const res = await fx.request.get(`/v2/ns/app/blobs/uploads/${bad}`);
    t.equal(res.status, 404, `id ${bad.slice(0, 30)}`);
    t.same(errorCodes(res.body), ['BLOB_UPLOAD_UNKNOWN']);
  }
});

t.test('cross-repository mount', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(2048);
  await pushBlob(fx.request, 'src/repo', blob);
  await pushBlob(fx.request, 'lacking', randomBlob(10));

  const withFrom = await fx.request.post(`/v2/dst/one/blobs/uploads/?mount=${blob.digest}&from=src/repo`);
  t.equal(withFrom.status, 201, 'mount with from → 201');
  t.equal(withFrom.headers.location, `/v2/dst/one/blobs/${blob.digest}`);
  t.equal(withFrom.headers['docker-content-digest'], blob.digest);
  await assertStored(t, fx, 'dst/one', blob.bytes, blob.digest);

  const fromLacking = await fx.request.post(`/v2/dst/two/blobs/uploads/?mount=${blob.digest}&from=lacking`);
  t.equal(fromLacking.status, 202, 'from a repository lacking the blob → an upload session');
  t.match(fromLacking.headers.location, /^\/v2\/dst\/two\/blobs\/uploads\/[a-zA-Z0-9-]+$/);
  t.equal((await fx.request.head(`/v2/dst/two/blobs/${blob.digest}`)).status, 404, 'nothing mounted');
  // The fallback session works like any other.
  const put = await finish(fx, fromLacking.headers.location as string, blob.digest, blob.bytes);
  t.equal(put.status, 201);

  const noFrom = await fx.request.post(`/v2/dst/three/blobs/uploads/?mount=${blob.digest}`);
  t.equal(noFrom.status, 201, 'mount without from finds a repository holding the blob');
  await assertStored(t, fx, 'dst/three', blob.bytes, blob.digest);

  const unknown = await fx.request.post(`/v2/dst/four/blobs/uploads/?mount=${randomBlob(3).digest}&from=src/repo`);
  t.equal(unknown.status, 202, 'unknown blob → session');

  const badFrom = await fx.request.post(`/v2/dst/five/blobs/uploads/?mount=${blob.digest}&from=..%2F..`);
  t.equal(badFrom.status, 202, 'invalid from → session, never a 500');
});

t.test('sessions survive a restart, with the in-memory hash gone', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(200_000);
  const b = blob.bytes;

  const loc = await startSession(fx);
  t.equal((await patch(fx, loc, b.subarray(0, 70_000), [0, 69_999])).status, 202);
  const emptyLoc = await startSession(fx); // a session that never received a byte

  await fx.restart();
  const status = await fx.request.get(loc);
  t.equal(status.status, 204, 'status after restart');
  t.equal(status.headers.range, '0-69999');
  t.equal((await patch(fx, loc, b.subarray(70_000, 150_000), [70_000, 149_999])).status, 202, 'PATCH after restart');

  await fx.restart(); // again: now the hash must be rebuilt from the scratch file for the final PUT
  const put = await finish(fx, loc, blob.digest, b.subarray(150_000), [150_000, 199_999]);
  t.equal(put.status, 201, 'PUT after a second restart');
  await assertStored(t, fx, 'ns/app', b, blob.digest);

  const small = randomBlob(10);
  t.equal((await finish(fx, emptyLoc, small.digest, small.bytes)).status, 201, 'an empty session finishes after restart');
});

t.test('a restart after a digest-mismatch leaves no usable session', async (t) => {
  const fx = await registryFixture(t);
  const loc = await startSession(fx);
  await patch(fx, loc, Buffer.from('abc'));
  t.equal((await finish(fx, loc, randomBlob(3).digest)).status, 400);
  await fx.restart();
  t.equal((await fx.request.get(loc)).status, 404);
});

t.test('expired sessions are purged (purgeStale and the background timer)', async (t) => {
  const fx = await registryFixture(t);
  const loc = await startSession(fx);
  await patch(fx, loc, Buffer.from('partial'));
  const fresh = await startSession(fx);
  // Nothing is older than a minute ago.
  t.equal(await fx.registry.deps.uploads.purgeStale(Date.now() - 60_000), 0, 'fresh sessions are kept');
  t.equal((await fx.request.get(loc)).status, 204);
  const purged = await fx.registry.deps.uploads.purgeStale(Date.now() + 1000);
  t.equal(purged, 2, 'both sessions purged');
  const gone = await fx.request.get(loc);
  t.equal(gone.status, 404);
  t.same(errorCodes(gone.body), ['BLOB_UPLOAD_UNKNOWN']);
  t.equal((await fx.request.get(fresh)).status, 404);

  await fx.restart({ uploads: { ttl_seconds: 1 } });
  const short = await startSession(fx);
  let status = 204;
  const deadline = Date.now() + 8000;
  while (status === 204 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await fx.request.get(short)).status;
  }
  t.equal(status, 404, 'a session idle past uploads.ttl_seconds is purged in the background');
});

t.test('sha512 through a chunked session', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(3000, 'sha512');
  const loc = await startSession(fx);
  await patch(fx, loc, blob.bytes.subarray(0, 1000), [0, 999]);
  const put = await finish(fx, loc, blob.digest, blob.bytes.subarray(1000), [1000, 2999]);
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], blob.digest);
  await assertStored(t, fx, 'ns/app', blob.bytes, blob.digest);
});

t.test('an empty blob uploads and serves', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(0);
  const loc = await startSession(fx);
  const put = await finish(fx, loc, blob.digest);
  t.equal(put.status, 201);
  const get = await fx.request.get(`/v2/ns/app/blobs/${blob.digest}`);
  t.equal(get.status, 200);
  t.equal(get.headers['content-length'], '0');
});

t.test('a chunk cut off by the client is rolled back; the session resumes from the last good offset', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(400_000);
  const loc = await startSession(fx);
  t.equal((await patch(fx, loc, blob.bytes.subarray(0, 100_000), [0, 99_999])).status, 202);
  // Announce 300 000 bytes, send 150 000, then drop the connection.
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${fx.url}${loc}`, {
      method: 'PATCH',
      headers: { 'Content-Range': '100000-399999', 'Content-Length': '300000', 'Content-Type': 'application/octet-stream' },
    });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      resolve();
    });
    req.write(blob.bytes.subarray(100_000, 250_000), () => setTimeout(() => req.destroy(), 100));
  });
  // The server notices the abort asynchronously: poll the status (bounded).
  let range = '';
  for (let i = 0; i < 40; i++) {
    const st = await fx.request.get(loc);
    range = st.headers.range as string;
    if (st.status === 204 && range === '0-99999') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(range, '0-99999', 'offset rolled back to the last complete chunk');
  let resumed = 0;
  for (let i = 0; i < 40; i++) {
    resumed = (await patch(fx, loc, blob.bytes.subarray(100_000, 400_000), [100_000, 399_999])).status;
    if (resumed !== 400) break; // 400 while the aborted chunk is still being unwound
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(resumed, 202, 'the session accepts the chunk again');
  const put = await finish(fx, loc, blob.digest);
  t.equal(put.status, 201, 'and completes with the right digest');
  await assertStored(t, fx, 'ns/app', blob.bytes, blob.digest);
});
