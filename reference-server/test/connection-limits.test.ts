/**
 * Connection hygiene (issue 12, items 5 and 8): slow or half-finished clients cannot hold the registry's
 * sockets, and a client that half-closes after a complete request still gets its answer.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ociImage, randomBlob } from './helpers/oci.js';
import { ADMIN, limitsFixture, percentile, pullImage, pushImage, rawClient, statusOf, timed, type RawClient } from './helpers/limits.js';

const SLOW_CLIENTS = 500;

t.test(`${SLOW_CLIENTS} unauthenticated clients trickling bodies: each gets its 401 and is closed; a normal client pushes and pulls meanwhile`, async (t) => {
  const { url, logLines } = await limitsFixture(t);
  const slow: RawClient[] = [];
  let trickling = true;
  // Connect in batches so the listen backlog is not the thing being tested.
  for (let i = 0; i < SLOW_CLIENTS; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, SLOW_CLIENTS - i) }, () => rawClient(url)));
    for (const c of batch) {
      c.socket.write(`PATCH /v2/slow/app/blobs/uploads/00000000-0000-4000-8000-${String(slow.length).padStart(12, '0')} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n`);
      slow.push(c);
    }
  }
  // One byte per client every 200 ms while they are open: the body would take days.
  const trickle = setInterval(() => {
    if (!trickling) return;
    for (const c of slow) if (!c.socket.destroyed && c.socket.writable) c.socket.write('x');
  }, 200);
  t.teardown(() => {
    clearInterval(trickle);
    for (const c of slow) c.socket.destroy();
  });

  const latencies: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < 4; i++) {
    const image = ociImage({ files: [{ path: 'data', content: randomBytes(256 * 1024).toString('hex') }, { path: 'n', content: String(i) }] });
    failures.push(...(await pushImage(url, ADMIN, `busy/app${i}`, image, 'v1', latencies)));
    failures.push(...(await pullImage(url, ADMIN, `busy/app${i}`, image, 'v1', latencies)));
  }

  // Generous: the server closes them right after the 401 (plus a 2 s linger); on a server that drains
  // their bodies instead, they never close.
  const closedIn = await Promise.all(slow.map((c) => Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 60_000))])));
  trickling = false;
  const statuses = new Map<string, number>();
  for (const c of slow) {
    const s = String(statusOf(c.received()) ?? 'none');
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
  const stillOpen = closedIn.filter((ms) => ms < 0).length;
  t.comment(
    `normal client: ${latencies.length} requests, p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (first request ${latencies[0]?.toFixed(1)} ms, made while the 500 are being answered), failures ${failures.length}`,
  );
  t.comment(`slow clients: ${SLOW_CLIENTS}, statuses ${JSON.stringify(Object.fromEntries(statuses))}, closed by the server ${SLOW_CLIENTS - stillOpen}, still open after 60 s ${stillOpen}, p95 time to close ${percentile(closedIn.filter((ms) => ms >= 0), 95)} ms`);
  t.same(failures, [], 'the normal client saw no failure');
  t.equal(stillOpen, 0, 'every slow client was disconnected');
  t.equal(statuses.get('401'), SLOW_CLIENTS, 'every slow client got a 401 first');
  t.notOk(
    logLines.some((l) => l.msg === 'unhandled error'),
    'nothing logged as unhandled',
  );
});

t.test('an authenticated body slower than the minimum rate is cut, logged, and its session stays resumable', async (t) => {
  const { url, logLines } = await limitsFixture(t, { limits: { body_window_seconds: 1, body_min_bytes_per_second: 1024 } });
  const start = await timed([], `${url}/v2/rate/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: ADMIN } });
  t.equal(start.status, 202);
  const location = start.headers.get('location')!;
  const c = await rawClient(url);
  c.socket.write(`PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
  const trickle = setInterval(() => c.socket.writable && c.socket.write('y'), 100);
  t.teardown(() => clearInterval(trickle));
  const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
  clearInterval(trickle);
  t.ok(ms > 0, `the connection was closed by the server (after ${ms} ms)`);
  const line = logLines.find((l) => l.limit === 'body_min_rate');
  t.ok(line, 'one structured log line names the limit');
  t.match(line, { level: 40, method: 'PATCH', windowSeconds: 1, minBytesPerSecond: 1024 });

  // The cut chunk was rolled back: the session is at 0 and takes a normal chunk.
  const status = await timed([], `${url}${location}`, { headers: { Authorization: ADMIN } });
  t.equal(status.status, 204);
  t.equal(status.headers.get('range'), '0-0');
  const blob = randomBlob(300_000);
  const put = await timed([], `${url}${location}?digest=${encodeURIComponent(blob.digest)}`, {
    method: 'PUT',
    headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  t.equal(put.status, 201, 'a client at normal speed finishes the same session');
});

t.test('request headers not finished within headers_timeout_seconds: 408, closed, logged', async (t) => {
  const { url, logLines } = await limitsFixture(t, { limits: { headers_timeout_seconds: 1 } });
  const c = await rawClient(url);
  c.socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n'); // never the blank line
  const trickle = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 200);
  t.teardown(() => clearInterval(trickle));
  const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
  clearInterval(trickle);
  t.ok(ms > 0, `closed by the server after ${ms} ms`);
  t.equal(statusOf(c.received()), 408);
  t.ok(
    logLines.some((l) => l.limit === 'headers_timeout'),
    'logged with limit=headers_timeout',
  );
});

t.test('a client that half-closes after a complete request still gets its response', async (t) => {
  const { url } = await limitsFixture(t);
  const blob = randomBlob(50_000);
  const c = await rawClient(url, { allowHalfOpen: true });
  c.socket.write(
    `POST /v2/half/app/blobs/uploads/?digest=${encodeURIComponent(blob.digest)} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${blob.bytes.length}\r\n\r\n`,
  );
  c.socket.end(blob.bytes); // FIN right after the body: "nothing more from me, now answer"
  const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
  t.ok(ms > 0, 'the server closed the connection after answering');
  t.equal(statusOf(c.received()), 201, `the upload was answered: ${c.received().split('\r\n')[0]}`);
  const get = await timed([], `${url}/v2/half/app/blobs/${blob.digest}`, { headers: { Authorization: ADMIN } });
  t.ok(get.body.equals(blob.bytes), 'and stored');

  // The same with a GET (no body).
  const g = await rawClient(url, { allowHalfOpen: true });
  g.socket.end(`GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN}\r\n\r\n`);
  await Promise.race([g.closed, new Promise((r) => setTimeout(r, 20_000))]);
  t.equal(statusOf(g.received()), 200);
});
