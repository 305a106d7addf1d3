// The benchmark's fixtures, per-target setup, and the measured operations.
// Each operation's run() does a bounded amount of work against one target and returns
// { count, bytes }: `count` operations (the unit of "CPU ms per op"), `bytes` moved.
import { createHash } from 'node:crypto';
import { blobDigest, smallBlob } from './blob-gen.mjs';
import { drain, expectStatus } from './http-client.mjs';
import { loadLoop } from './load-loop.mjs';
import {
  MANIFEST_ACCEPT,
  getAllPages,
  manifestBytes,
  probePushMode,
  pushBlobChunked,
  pushBlobMonolithic,
  putManifest,
  putSmallBlob,
} from './registry-calls.mjs';

const SETUP_CONCURRENCY = 16;
/** Big blobs moved at once by the *-p4 operations (docker moves 3–4 layers at a time). */
export const PARALLEL = 4;
const REPO = {};

/** Repository names under `ns` (default `bench`); `nitro-registry bench` uses a namespace of its own per run. */
export function useNamespace(ns = 'bench') {
  Object.assign(REPO, {
    probe: `${ns}/probe`,
    small: `${ns}/small`,
    big: `${ns}/big`,
    push: `${ns}/push`,
    put: `${ns}/put`,
    tags: `${ns}/tags`,
    catalog: (i) => `${ns}/catalog/r${String(i).padStart(5, '0')}`,
  });
}
useNamespace();

function memBlob(seed, size) {
  const bytes = smallBlob(seed, size);
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/** Everything both targets receive, computed once (big blobs: digest only, by streaming). */
export function makeFixtures(cfg) {
  const big = (seed) => ({ seed, size: cfg.bigSize, digest: blobDigest(seed, cfg.bigSize) });
  const rounds = Array.from({ length: cfg.rounds }, (_, r) => r);
  const layer = memBlob('layer', 4096);
  const configBytes = Buffer.from(
    `{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["${layer.digest}"]}}`,
  );
  return {
    tiny: memBlob('tiny', 64),
    small: Array.from({ length: cfg.smallCount }, (_, i) => memBlob(`small-${i}`, cfg.smallSize)),
    layer,
    config: { bytes: configBytes, digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}` },
    bigGet: big('get'),
    mono: rounds.map((r) => big(`mono-${r}`)),
    chunked: rounds.map((r) => big(`chunked-${r}`)),
    // The parallel pushes: PARALLEL distinct blobs per round, as a client pushing the layers of one image.
    mono4: rounds.map((r) => Array.from({ length: PARALLEL }, (_, i) => big(`mono4-${r}-${i}`))),
    chunked4: rounds.map((r) => Array.from({ length: PARALLEL }, (_, i) => big(`chunked4-${r}-${i}`))),
    memory: { seed: 'memory', size: cfg.memSize, digest: blobDigest('memory', cfg.memSize) },
    memory4: Array.from({ length: PARALLEL }, (_, i) => ({ seed: `memory4-${i}`, size: cfg.memSize, digest: blobDigest(`memory4-${i}`, cfg.memSize) })),
  };
}

/**
 * Per-target setup, returns { pushMode, steps: { name: ms } }. Tag and catalog setup
 * are themselves thousands of manifest PUTs at c16: their wall times are reported too.
 */
export async function setupTarget(client, fx, cfg, log) {
  const steps = {};
  const step = async (name, fn) => {
    const t0 = performance.now();
    await fn();
    steps[name] = Math.round(performance.now() - t0);
    log(`  setup ${name}: ${steps[name]} ms`);
  };
  let pushMode;
  await step('probe-push-mode', async () => {
    pushMode = await probePushMode(client, REPO.probe, fx.tiny);
  });
  // The floor target (a bare node:http blob server) only speaks the big-blob endpoints.
  if (cfg.bigBlobsOnly) {
    await step('big-blob', () => pushBlobMonolithic(client, REPO.big, fx.bigGet, pushMode));
    return { pushMode, steps };
  }
  await step('small-blobs', async () => {
    await loadLoop({
      concurrency: SETUP_CONCURRENCY,
      maxCount: fx.small.length,
      maxMs: 120_000,
      fn: (i) => putSmallBlob(client, REPO.small, fx.small[i]),
    });
    await putSmallBlob(client, REPO.small, fx.layer);
    await putSmallBlob(client, REPO.small, fx.config);
    await putManifest(client, REPO.small, 'latest', manifestBytes(fx.config, fx.layer, 'latest'));
  });
  await step('big-blob', () => pushBlobMonolithic(client, REPO.big, fx.bigGet, pushMode));
  await step('mount-put-repo', async () => {
    await putSmallBlob(client, REPO.put, fx.layer, REPO.small);
    await putSmallBlob(client, REPO.put, fx.config, REPO.small);
  });
  await step(`tags-${cfg.tagCount}`, async () => {
    await putSmallBlob(client, REPO.tags, fx.layer, REPO.small);
    await putSmallBlob(client, REPO.tags, fx.config, REPO.small);
    const done = await loadLoop({
      concurrency: SETUP_CONCURRENCY,
      maxCount: cfg.tagCount,
      maxMs: 300_000,
      fn: (i) => putManifest(client, REPO.tags, `t${String(i).padStart(5, '0')}`, manifestBytes(fx.config, fx.layer, `tag-${i}`)),
    });
    if (done !== cfg.tagCount) throw new Error(`only ${done}/${cfg.tagCount} tags pushed in time`);
  });
  await step(`catalog-${cfg.repoCount}`, async () => {
    const done = await loadLoop({
      concurrency: SETUP_CONCURRENCY,
      maxCount: cfg.repoCount,
      maxMs: 300_000,
      fn: async (i) => {
        const repo = REPO.catalog(i);
        await putSmallBlob(client, repo, fx.layer, REPO.small);
        await putSmallBlob(client, repo, fx.config, REPO.small);
        await putManifest(client, repo, 'latest', manifestBytes(fx.config, fx.layer, `repo-${i}`));
      },
    });
    if (done !== cfg.repoCount) throw new Error(`only ${done}/${cfg.repoCount} repositories created in time`);
  });
  return { pushMode, steps };
}

const HEADERS_NONE = {};
const HEADERS_MANIFEST_GET = { accept: MANIFEST_ACCEPT };

function getLoop(ctx, method, paths, headers, concurrency, maxCount) {
  const { client, cfg } = ctx;
  return loadLoop({
    concurrency,
    maxCount,
    maxMs: cfg.loopMs,
    fn: async (i) => {
      const res = await client.request({ path: paths[i % paths.length], method, headers });
      if (res.statusCode !== 200) await expectStatus(res, [200], `${method} ${paths[i % paths.length]}`);
      await client.discard(res.body);
    },
  });
}

/**
 * The measured operations, in the order they run within a round.
 * ctx = { client, fx, cfg, pushMode, round }.
 */
export const OPERATIONS = [
  {
    name: 'blob-push-monolithic',
    unit: 'MiB/s',
    describe: (cfg) => `push one ${cfg.bigSize >> 20} MiB blob in one request body (POST ?digest= if supported, else POST + PUT ?digest=)`,
    async run({ client, fx, round, pushMode }) {
      const blob = fx.mono[round];
      await pushBlobMonolithic(client, REPO.push, blob, pushMode);
      return { count: 1, bytes: blob.size };
    },
  },
  {
    name: 'blob-push-chunked',
    unit: 'MiB/s',
    describe: (cfg) => `push one ${cfg.bigSize >> 20} MiB blob as POST + PATCH ${cfg.chunkSize >> 20} MiB chunks (Content-Range) + PUT ?digest=`,
    async run({ client, fx, cfg, round }) {
      const blob = fx.chunked[round];
      await pushBlobChunked(client, REPO.push, blob, cfg.chunkSize);
      return { count: 1, bytes: blob.size };
    },
  },
  {
    name: 'blob-get-big',
    unit: 'MiB/s',
    describe: (cfg) => `GET a ${cfg.bigSize >> 20} MiB blob ${cfg.bigGets}× sequentially, body read to the end`,
    async run({ client, fx, cfg }) {
      let bytes = 0;
      for (let i = 0; i < cfg.bigGets; i++) {
        const res = await client.request({ path: `/v2/${REPO.big}/blobs/${fx.bigGet.digest}`, method: 'GET' });
        await expectStatus(res, [200], 'GET big blob');
        const n = await drain(res.body);
        if (n !== fx.bigGet.size) throw new Error(`GET big blob: got ${n} bytes, expected ${fx.bigGet.size}`);
        bytes += n;
      }
      return { count: cfg.bigGets, bytes };
    },
  },
  {
    name: 'blob-push-monolithic-p4',
    unit: 'MiB/s',
    describe: (cfg) => `push ${PARALLEL} distinct ${cfg.bigSize >> 20} MiB blobs at once, each in one request body`,
    async run({ client, fx, round, pushMode }) {
      const blobs = fx.mono4[round];
      await Promise.all(blobs.map((b) => pushBlobMonolithic(client, REPO.push, b, pushMode)));
      return { count: blobs.length, bytes: blobs.reduce((n, b) => n + b.size, 0) };
    },
  },
  {
    name: 'blob-push-chunked-p4',
    unit: 'MiB/s',
    describe: (cfg) => `push ${PARALLEL} distinct ${cfg.bigSize >> 20} MiB blobs at once, each as ${cfg.chunkSize >> 20} MiB PATCH chunks`,
    async run({ client, fx, cfg, round }) {
      const blobs = fx.chunked4[round];
      await Promise.all(blobs.map((b) => pushBlobChunked(client, REPO.push, b, cfg.chunkSize)));
      return { count: blobs.length, bytes: blobs.reduce((n, b) => n + b.size, 0) };
    },
  },
  {
    name: 'blob-get-big-p4',
    unit: 'MiB/s',
    describe: (cfg) => `${PARALLEL} concurrent GETs of the ${cfg.bigSize >> 20} MiB blob, bodies read to the end`,
    async run({ client, fx }) {
      const sizes = await Promise.all(Array.from({ length: PARALLEL }, () => getBig(client, fx)));
      return { count: PARALLEL, bytes: sizes.reduce((a, b) => a + b, 0) };
    },
  },
  {
    name: 'blob-get-small-c64',
    unit: 'req/s',
    describe: (cfg) => `GET ${cfg.smallSize} B blobs (${cfg.smallCount} distinct, round robin) at concurrency 64`,
    async run(ctx) {
      const paths = ctx.fx.small.map((b) => `/v2/${REPO.small}/blobs/${b.digest}`);
      const count = await getLoop(ctx, 'GET', paths, HEADERS_NONE, 64, ctx.cfg.c64Max);
      return { count, bytes: count * ctx.cfg.smallSize };
    },
  },
  {
    name: 'blob-head-c64',
    unit: 'req/s',
    describe: () => 'HEAD small blobs (round robin) at concurrency 64',
    async run(ctx) {
      const paths = ctx.fx.small.map((b) => `/v2/${REPO.small}/blobs/${b.digest}`);
      const count = await getLoop(ctx, 'HEAD', paths, HEADERS_NONE, 64, ctx.cfg.c64Max);
      return { count, bytes: 0 };
    },
  },
  {
    name: 'manifest-get-c64',
    unit: 'req/s',
    describe: () => 'GET manifest by tag (Accept: OCI + Docker types) at concurrency 64',
    async run(ctx) {
      const count = await getLoop(ctx, 'GET', [`/v2/${REPO.small}/manifests/latest`], HEADERS_MANIFEST_GET, 64, ctx.cfg.c64Max);
      return { count, bytes: 0 };
    },
  },
  {
    name: 'manifest-put-seq',
    unit: 'req/s',
    describe: () => 'PUT distinct image manifests by new tag, one at a time',
    async run({ client, fx, cfg, round }) {
      const count = await loadLoop({
        concurrency: 1,
        maxCount: cfg.putSeqMax,
        maxMs: cfg.loopMs,
        fn: (i) => putManifest(client, REPO.put, `s${round}-${i}`, manifestBytes(fx.config, fx.layer, `seq-${round}-${i}`)),
      });
      return { count, bytes: 0 };
    },
  },
  {
    name: 'manifest-put-c16',
    unit: 'req/s',
    describe: () => 'PUT distinct image manifests by new tag at concurrency 16',
    async run({ client, fx, cfg, round }) {
      const count = await loadLoop({
        concurrency: 16,
        maxCount: cfg.putC16Max,
        maxMs: cfg.loopMs,
        fn: (i) => putManifest(client, REPO.put, `c${round}-${i}`, manifestBytes(fx.config, fx.layer, `c16-${round}-${i}`)),
      });
      return { count, bytes: 0 };
    },
  },
  {
    name: 'tags-list',
    unit: 'lists/s',
    describe: (cfg) => `GET tags/list of a repo with ${cfg.tagCount} tags, following Link pages to the end; one op = one full list`,
    async run({ client, cfg }) {
      return listLoop(client, cfg, `/v2/${REPO.tags}/tags/list`, cfg.tagCount);
    },
  },
  {
    name: 'catalog',
    unit: 'lists/s',
    describe: (cfg) => `GET _catalog with ${cfg.repoCount}+ repositories, following Link pages; one op = one full list`,
    async run({ client, cfg }) {
      return listLoop(client, cfg, '/v2/_catalog', cfg.repoCount);
    },
  },
];

async function getBig(client, fx) {
  const res = await client.request({ path: `/v2/${REPO.big}/blobs/${fx.bigGet.digest}`, method: 'GET' });
  await expectStatus(res, [200], 'GET big blob');
  const n = await drain(res.body);
  if (n !== fx.bigGet.size) throw new Error(`GET big blob: got ${n} bytes, expected ${fx.bigGet.size}`);
  return n;
}

async function listLoop(client, cfg, path, atLeast) {
  let pages = 0;
  let entries = 0;
  const count = await loadLoop({
    concurrency: 1,
    maxCount: cfg.listMax,
    maxMs: cfg.loopMs,
    fn: async () => {
      const r = await getAllPages(client, path);
      if (r.entries < atLeast) throw new Error(`GET ${path}: ${r.entries} entries over ${r.pages} page(s), expected ≥ ${atLeast}`);
      pages = r.pages;
      entries = r.entries;
    },
  });
  return { count, bytes: 0, note: `${entries} entries in ${pages} page(s)` };
}

export { REPO };
