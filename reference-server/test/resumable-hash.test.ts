/**
 * ResumableHash: known answers on both engines (native addon and the JavaScript fallback), chunk
 * splits around block boundaries, a saved state continued in another process, native ↔ JS interop
 * of the state string, and clear errors for corrupt or foreign states.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { nativeHash, nativeHashError } from '../src/storage/native-hash.js';
import { ResumableHash, type HashAlgorithm } from '../src/storage/resumable-hash.js';

const engines: Array<'native' | 'js'> = nativeHash ? ['native', 'js'] : ['js'];
const algs: HashAlgorithm[] = ['sha256', 'sha512'];
const ref = (alg: HashAlgorithm, data: Uint8Array) => `${alg}:${createHash(alg).update(data).digest('hex')}`;

t.test('the addon is built here (CI sets NITRO_REGISTRY_REQUIRE_NATIVE=1)', async (t) => {
  if (process.env.NITRO_REGISTRY_REQUIRE_NATIVE === '1') t.ok(nativeHash, `addon loaded (${nativeHashError ?? 'ok'})`);
  else if (!nativeHash) t.comment(`addon unavailable, testing the JS engine only: ${nativeHashError}`);
});

t.test('known answers', async (t) => {
  const vectors: Record<string, [Uint8Array, string, string]> = {
    empty: [
      Buffer.alloc(0),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    ],
    abc: [
      Buffer.from('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    ],
  };
  for (const engine of engines) {
    for (const [name, [data, s256, s512]] of Object.entries(vectors)) {
      for (const [alg, want] of [['sha256', s256], ['sha512', s512]] as const) {
        const h = ResumableHash.create(alg, { engine });
        h.update(data);
        t.equal(h.digest(), `${alg}:${want}`, `${engine} ${alg} ${name}`);
      }
    }
    const mib = randomBytes(1 << 20);
    for (const alg of algs) {
      const h = ResumableHash.create(alg, { engine });
      await h.updateAsync(mib);
      t.equal(h.digest(), ref(alg, mib), `${engine} ${alg} 1 MiB (async)`);
      t.equal(h.bytes, 1 << 20);
    }
  }
});

t.test('every split around the 64/128-byte block boundaries, sync and async, and save/restore at the split', async (t) => {
  const data = randomBytes(400);
  const splits = new Set<number>();
  for (const b of [0, 64, 128, 192, 256, 384]) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d <= data.length) splits.add(b + d);
  for (const engine of engines) {
    for (const alg of algs) {
      const want = ref(alg, data);
      for (const at of splits) {
        const a = ResumableHash.create(alg, { engine });
        a.update(data.subarray(0, at));
        a.update(data.subarray(at));
        t.equal(a.digest(), want, `${engine} ${alg} split ${at}`);
        const b = ResumableHash.create(alg, { engine });
        await b.updateAsync([data.subarray(0, at), data.subarray(at, at + 1), data.subarray(at + 1)]);
        t.equal(b.digest(), want, `${engine} ${alg} async split ${at}`);
        const c = ResumableHash.create(alg, { engine });
        c.update(data.subarray(0, at));
        const d = ResumableHash.restore(c.save(), { engine });
        t.equal(d.bytes, at);
        d.update(data.subarray(at));
        t.equal(d.digest(), want, `${engine} ${alg} restored at ${at}`);
      }
    }
  }
});

t.test('digest() and copy() leave the running hash untouched', async (t) => {
  for (const engine of engines) {
    const h = ResumableHash.create('sha256', { engine });
    h.update(Buffer.from('ab'));
    t.equal(h.digest(), ref('sha256', Buffer.from('ab')));
    const c = h.copy();
    c.update(Buffer.from('zz'));
    h.update(Buffer.from('c'));
    t.equal(h.digest(), ref('sha256', Buffer.from('abc')), engine);
    t.equal(c.digest(), ref('sha256', Buffer.from('abzz')), engine);
  }
});

t.test('native and JavaScript engines write the same state and continue each other', { skip: !nativeHash && 'no addon' }, async (t) => {
  for (const alg of algs) {
    const data = randomBytes(100_000 + 77);
    const n = ResumableHash.create(alg, { engine: 'native' });
    const j = ResumableHash.create(alg, { engine: 'js' });
    n.update(data.subarray(0, 5_003));
    j.update(data.subarray(0, 5_003));
    t.equal(n.save(), j.save(), `${alg}: identical state strings`);
    const jn = ResumableHash.restore(n.save(), { engine: 'js' });
    const nj = ResumableHash.restore(j.save(), { engine: 'native' });
    jn.update(data.subarray(5_003));
    await nj.updateAsync(data.subarray(5_003));
    t.equal(jn.digest(), ref(alg, data));
    t.equal(nj.digest(), ref(alg, data));
  }
});

t.test('a saved state continues in another process', async (t) => {
  const child = fileURLToPath(new URL('./helpers/hash-child.ts', import.meta.url));
  const data = randomBytes(300_001);
  const cut = 123_457;
  const jobs: Array<{ state: string; engine: 'native' | 'js'; rest: string; label: string; alg: HashAlgorithm }> = [];
  for (const from of engines) {
    for (const to of engines) {
      for (const alg of algs) {
        const h = ResumableHash.create(alg, { engine: from });
        h.update(data.subarray(0, cut));
        jobs.push({ state: h.save(), engine: to, rest: data.subarray(cut).toString('base64'), label: `${alg} ${from} → ${to} process`, alg });
      }
    }
  }
  const input = jobs.map(({ state, engine, rest }) => JSON.stringify({ state, engine, rest })).join('\n');
  const r = spawnSync(process.execPath, [...process.execArgv, child], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(r.status, 0, `child exited 0 ${r.stderr.slice(0, 500)}`);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string; digest: string });
  t.equal(out.length, jobs.length);
  jobs.forEach((job, i) => {
    t.equal(out[i]?.digest, ref(job.alg, data), job.label);
    t.equal(ResumableHash.restore(out[i]!.state).bytes, data.length);
  });
});

t.test('corrupt or foreign states are rejected with a clear error', async (t) => {
  const h = ResumableHash.create('sha256');
  h.update(Buffer.from('hello world, this is a partial block'));
  const good = h.save();
  const [v, alg, bytes, b64] = good.split('.') as [string, string, string, string];
  const bad: Record<string, [string, RegExp]> = {
    empty: ['', /malformed/],
    'old in-process id': ['mem.1b4e28ba-2fa1-11d2-883f-0016d3cca427', /malformed/],
    'future version': [`rh2.${alg}.${bytes}.${b64}`, /unknown format version "rh2"/],
    'unknown algorithm': [`${v}.md5.${bytes}.${b64}`, /malformed/],
    'byte count off by one': [`${v}.${alg}.${Number(bytes) + 1}.${b64}`, /corrupt/],
    'truncated state': [`${v}.${alg}.${bytes}.${b64.slice(0, -4)}`, /corrupt/],
    'not base64url': [`${v}.${alg}.${bytes}.${b64.slice(0, -1)}+`, /malformed/],
    'negative count': [`${v}.${alg}.-1.${b64}`, /malformed/],
  };
  for (const engine of engines) {
    for (const [name, [state, re]] of Object.entries(bad)) t.throws(() => ResumableHash.restore(state, { engine }), re, `${engine}: ${name}`);
  }
});

t.test('the hash is not touched while an async update is in flight', async (t) => {
  for (const engine of engines) {
    const h = ResumableHash.create('sha256', { engine });
    const p = h.updateAsync(randomBytes(1 << 20));
    if (engine === 'native') t.throws(() => h.save(), /in flight/);
    await p;
    t.doesNotThrow(() => h.save(), 'idle again once awaited');
  }
});
