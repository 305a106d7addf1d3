#!/usr/bin/env node
// The "floor" target: a bare node:http server that does only what a big-blob push or pull must do in
// Node — receive the body, hash it (node:crypto sha256 on the event loop, the straightforward way),
// write it to a file, rename it into place; GET streams the file back with 1 MiB reads. No routing
// framework, no metadata database, no auth, no upload sessions beyond an in-memory map; like both
// registries it fsyncs an upload before publishing it (until issue 14's second pass it did not).
// It answers only the endpoints the big-blob operations use (`bench/run.mjs --targets distribution,
// nitro,floor --ops blob-…`), so the table can show how close the reference server is to plain Node.
//
// Usage: node bench/lib/floor-server.mjs --listen 127.0.0.1:PORT --data DIR
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, data: { type: 'string' } } });
const [host, port] = values.listen.split(':');
const blobs = join(values.data, 'blobs');
const uploads = join(values.data, 'uploads');
mkdirSync(blobs, { recursive: true });
mkdirSync(uploads, { recursive: true });

/** id → { hash, size } of the open upload sessions. */
const sessions = new Map();
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function reply(res, status, headers = {}) {
  res.writeHead(status, { 'content-length': '0', ...headers });
  res.end();
}

/** Appends the request body to upload `id`: hash on the event loop, 256 KiB file writes. */
function append(req, id, s) {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(join(uploads, id), { flags: s.size === 0 ? 'w' : 'r+', start: s.size, highWaterMark: 256 * 1024 });
    req.on('data', (c) => {
      s.hash.update(c);
      s.size += c.length;
      if (!out.write(c)) req.pause();
    });
    out.on('drain', () => req.resume());
    req.on('end', () => out.end());
    out.on('finish', resolve);
    out.on('error', reject);
    req.on('error', reject);
  });
}

async function commit(res, id, s, digest) {
  const actual = `sha256:${s.hash.digest('hex')}`;
  sessions.delete(id);
  if (actual !== digest) {
    await rm(join(uploads, id), { force: true });
    return reply(res, 400);
  }
  // fsync before the rename, as both registries do (a blob is never published before it is on disk):
  // the floor does the same I/O, only without anything around it.
  const fh = await open(join(uploads, id), 'r+');
  await fh.sync();
  await fh.close();
  await rename(join(uploads, id), join(blobs, digest.slice(7)));
  reply(res, 201, { location: `/v2/x/blobs/${digest}`, 'docker-content-digest': digest });
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://floor');
  const path = url.pathname;
  const digest = url.searchParams.get('digest');
  if (path === '/v2/' || path === '/v2') return reply(res, 200);
  if (req.method === 'POST' && path.endsWith('/blobs/uploads/')) {
    const id = randomUUID();
    const s = { hash: createHash('sha256'), size: 0 };
    sessions.set(id, s);
    const location = `${path}${id}`;
    if (digest) {
      if (!DIGEST_RE.test(digest)) return reply(res, 400);
      await append(req, id, s);
      return commit(res, id, s, digest);
    }
    req.resume();
    return reply(res, 202, { location, range: '0-0' });
  }
  const up = /\/blobs\/uploads\/([0-9a-f-]{36})$/.exec(path);
  if (up) {
    const id = up[1];
    const s = sessions.get(id);
    if (!s) {
      req.resume();
      return reply(res, 404);
    }
    await append(req, id, s);
    if (req.method === 'PATCH') return reply(res, 202, { location: path, range: `0-${s.size - 1}` });
    if (req.method === 'PUT' && digest && DIGEST_RE.test(digest)) return commit(res, id, s, digest);
    return reply(res, 400);
  }
  const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
  if (blob && (req.method === 'GET' || req.method === 'HEAD')) {
    const file = join(blobs, blob[1].slice(7));
    let size;
    try {
      size = (await stat(file)).size;
    } catch {
      return reply(res, 404);
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream', 'docker-content-digest': blob[1] });
    if (req.method === 'HEAD') return res.end();
    return createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(res);
  }
  req.resume();
  reply(res, 404);
}

http
  .createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) reply(res, 500);
      else res.destroy(e);
    });
  })
  .listen(Number(port), host);
