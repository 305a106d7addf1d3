// The registry API calls the bench makes (OCI Distribution spec endpoints), written once
// and shared by setup and measured operations. Every call checks its status code.
import { blobStream } from './blob-gen.mjs';
import { expectStatus } from './http-client.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MANIFEST_ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Turns an upload Location (absolute or relative) into a path+query on the same origin. */
export function locationPath(location, extraQuery) {
  const url = new URL(location, 'http://placeholder.invalid');
  if (extraQuery) for (const [k, v] of Object.entries(extraQuery)) url.searchParams.set(k, v);
  return url.pathname + url.search;
}

/** POST /blobs/uploads/ → path of the new upload session (expects 202). */
export async function startUpload(client, repo) {
  const res = await client.request({ path: `/v2/${repo}/blobs/uploads/`, method: 'POST', headers: { 'content-length': '0' } });
  await expectStatus(res, [202], `POST /v2/${repo}/blobs/uploads/`);
  await client.discard(res.body);
  if (!res.headers.location) throw new Error(`POST /v2/${repo}/blobs/uploads/: 202 without Location`);
  return locationPath(res.headers.location);
}

/**
 * Monolithic push of blob (seed, size). mode 'post-digest': one POST ?digest= carrying
 * the body (OCI "single POST"); mode 'post-put': POST then PUT ?digest= with the body
 * (OCI "monolithic"; Distribution 2.8 ignores a digest on POST).
 */
export async function pushBlobMonolithic(client, repo, { seed, size, digest }, mode) {
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
  let path;
  if (mode === 'post-digest') path = `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`;
  else path = locationPath(await startUpload(client, repo), { digest });
  const method = mode === 'post-digest' ? 'POST' : 'PUT';
  const res = await client.request({ path, method, headers, body: blobStream(seed, size) });
  await expectStatus(res, [201], `${method} blob ${size} B (${mode})`);
  await client.discard(res.body);
}

/** Chunked push: POST, PATCH chunks with Content-Range, then PUT ?digest= with no body. */
export async function pushBlobChunked(client, repo, { seed, size, digest }, chunkSize) {
  let path = await startUpload(client, repo);
  for (let start = 0; start < size; start += chunkSize) {
    const end = Math.min(size, start + chunkSize);
    const res = await client.request({
      path,
      method: 'PATCH',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start),
        'content-range': `${start}-${end - 1}`,
      },
      body: blobStream(seed, size, start, end),
    });
    await expectStatus(res, [202], `PATCH ${start}-${end - 1}`);
    await client.discard(res.body);
    if (res.headers.location) path = locationPath(res.headers.location);
  }
  const res = await client.request({ path: locationPath(path, { digest }), method: 'PUT', headers: { 'content-length': '0' } });
  await expectStatus(res, [201], 'PUT ?digest= closing chunked upload');
  await client.discard(res.body);
}

/**
 * Detects whether the registry accepts a whole blob in one POST ?digest= (201), using a
 * tiny blob. Distribution 2.8 answers 202 (it opens a session and ignores the body).
 */
export async function probePushMode(client, repo, tiny) {
  const res = await client.request({
    path: `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(tiny.digest)}`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(tiny.bytes.length) },
    body: tiny.bytes,
  });
  await client.discard(res.body);
  return res.statusCode === 201 ? 'post-digest' : 'post-put';
}

/** Puts a small in-memory blob: cross-repo mount when `from` is given, else upload. */
export async function putSmallBlob(client, repo, { digest, bytes }, from) {
  let path;
  if (from) {
    const res = await client.request({
      path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      method: 'POST',
      headers: { 'content-length': '0' },
    });
    await expectStatus(res, [201, 202], `mount ${digest} into ${repo}`);
    await client.discard(res.body);
    if (res.statusCode === 201) return;
    path = locationPath(res.headers.location, { digest }); // mount refused: upload instead
  } else {
    path = locationPath(await startUpload(client, repo), { digest });
  }
  const res = await client.request({
    path,
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  await expectStatus(res, [201], `PUT small blob into ${repo}`);
  await client.discard(res.body);
}

/** A small OCI image manifest; `id` goes in an annotation so each id has its own digest. */
export function manifestBytes(config, layer, id) {
  return Buffer.from(
    `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}",` +
      `"config":{"mediaType":"${OCI_CONFIG}","digest":"${config.digest}","size":${config.bytes.length}},` +
      `"layers":[{"mediaType":"${OCI_LAYER}","digest":"${layer.digest}","size":${layer.bytes.length}}],` +
      `"annotations":{"org.example.bench.id":"${id}"}}`,
  );
}

const MANIFEST_PUT_HEADERS_BASE = { 'content-type': OCI_MANIFEST };

export async function putManifest(client, repo, ref, bytes) {
  const res = await client.request({
    path: `/v2/${repo}/manifests/${ref}`,
    method: 'PUT',
    headers: { ...MANIFEST_PUT_HEADERS_BASE, 'content-length': String(bytes.length) },
    body: bytes,
  });
  await expectStatus(res, [201], `PUT manifest ${repo}:${ref}`);
  await client.discard(res.body);
}

/** Next-page path from an RFC 5988 Link header (`<url>; rel="next"`), or null. */
export function nextLink(link) {
  if (!link) return null;
  const value = Array.isArray(link) ? link.join(', ') : link;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(value);
  return m ? locationPath(m[1]) : null;
}

/**
 * GETs a paginated list (tags/list, _catalog) following Link headers; returns the
 * number of pages and the number of entries of `field` (counted without JSON.parse on
 * the hot path: entries are quoted names, so counting `","` + 1 per non-empty page).
 */
export async function getAllPages(client, firstPath, maxPages = 10_000) {
  let path = firstPath;
  let pages = 0;
  let entries = 0;
  let bytes = 0;
  while (path && pages < maxPages) {
    const res = await client.request({ path, method: 'GET' });
    await expectStatus(res, [200], `GET ${path}`);
    let text = '';
    for await (const chunk of res.body) text += chunk.toString('latin1');
    bytes += text.length;
    const open = text.lastIndexOf('[');
    const close = text.lastIndexOf(']');
    const inner = open >= 0 && close > open ? text.slice(open + 1, close).trim() : '';
    if (inner) entries += inner.split('","').length;
    pages++;
    path = nextLink(res.headers.link);
  }
  return { pages, entries, bytes };
}
