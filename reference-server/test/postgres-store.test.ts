/**
 * The PostgreSQL backend: the metadata, GC and shared-state contracts on a fresh database per test
 * (exactly what sqlite-store.test.ts runs on SQLite), then what only a shared database has: two backends
 * (two pools = two replicas) on one database racing an immutable tag, GC against a push, and migrators.
 */
import t, { type Test } from 'tap';
import { openPostgresBackend, type PostgresBackend } from '../src/metadata/postgres/index.js';
import { LATEST_VERSION } from '../src/metadata/postgres/migrations.js';
import { metadataStoreContract, addBlob, digest, manifest } from './metadata-contract.js';
import { gcStoreContract } from './gc-store-contract.js';
import { sharedStateContract } from './shared-state-contract.js';
import { postgresDatabase } from './helpers/postgres.js';
import { scaleoutSkip } from './helpers/scaleout-env.js';

const skip = scaleoutSkip('postgres');
const IMMUTABLE = { immutableTags: true };
const MUTABLE = { immutableTags: false };

const open = (url: string, now?: () => number) => openPostgresBackend({ url, poolSize: 5, migrate: true, ...(now ? { now } : {}) });

/** A fresh database and a backend on it; cleanup closes the pool, then drops the database. */
async function fresh(now?: () => number): Promise<{ backend: PostgresBackend; cleanup: () => Promise<void> }> {
  const drops: (() => unknown)[] = [];
  const url = await postgresDatabase({ teardown: (fn) => drops.push(fn) });
  const backend = await open(url, now);
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      for (const d of drops) await d();
    },
  };
}

t.test('metadata contract', { skip }, async (t) => {
  metadataStoreContract(t, async (now) => {
    const f = await fresh(now);
    return { store: f.backend.registry, cleanup: f.cleanup };
  });
});

t.test('gc store contract', { skip }, async (t) => {
  gcStoreContract(t, async (now) => {
    const f = await fresh(now);
    return { store: f.backend.registry, gc: f.backend.gc, cleanup: f.cleanup };
  });
});

t.test('shared-state contract', { skip }, async (t) => {
  sharedStateContract(t, async () => {
    const f = await fresh();
    return { backend: f.backend, cleanup: f.cleanup };
  });
});

/** Two replicas: two backends (two pools) on one fresh database. */
async function twoReplicas(t: Test, now?: () => number): Promise<[PostgresBackend, PostgresBackend]> {
  const url = await postgresDatabase(t);
  const a = await open(url, now);
  const b = await open(url, now);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  return [a, b];
}

t.test('two replicas racing the first push of one immutable tag: exactly one winner', { skip }, async (t) => {
  const [a, b] = await twoReplicas(t);
  const layer = digest('race-layer');
  await addBlob(a.registry, layer, 3, 'r');
  for (let round = 0; round < 10; round++) {
    const tag = `v${round}`;
    const contenders = Array.from({ length: 6 }, () => manifest('r', [{ digest: layer, kind: 'blob' }]));
    const results = await Promise.all(contenders.map((m, i) => (i % 2 === 0 ? a : b).registry.putManifest(m, [tag], IMMUTABLE)));
    const winners = results.filter((r) => r.tagsSet.includes(tag));
    t.equal(winners.length, 1, `round ${round}: one winner`);
    const winner = contenders[results.indexOf(winners[0]!)]!;
    t.equal(await b.registry.resolveTag('r', tag), winner.digest, 'both replicas see the winner');
    t.equal(results.filter((r) => r.conflict?.current === winner.digest).length, 5, 'every loser was told who won');
  }
});

t.test('GC on one replica while another PUTs a manifest referencing the blob: never a manifest without its blob', { skip }, async (t) => {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const [gcSide, pushSide] = await twoReplicas(t, now);
  let refused = 0;
  let stored = 0;
  for (let round = 0; round < 40; round++) {
    const layer = digest(`gc-race-${round}`);
    await addBlob(pushSide.registry, layer, 1, 'app');
    clock += 10_000; // past any grace: GC may take the link and the blob the moment nothing references them
    const m = manifest('app', [{ digest: layer, kind: 'blob' }]);
    const deleted: string[] = [];
    const [put] = await Promise.all([
      pushSide.registry.putManifest(m, [], MUTABLE),
      (async () => {
        // What the collector does: the link if unreferenced, then the blob if nothing links or references it.
        await gcSide.gc.collectLink('app', layer, (s) => !s.referenced);
        await gcSide.gc.collectBlob(layer, (s) => s.links === 0 && s.references === 0, async () => void deleted.push(layer));
      })(),
    ]);
    if (put.missing.length > 0) {
      refused++;
      t.same(put.missing, [{ digest: layer, kind: 'blob' }], 'refused: the blob is reported unknown (MANIFEST_BLOB_UNKNOWN)');
      t.equal(await pushSide.registry.getManifest('app', m.digest), null, 'and nothing was stored');
    } else {
      stored++;
      t.same(deleted, [], `round ${round}: the manifest was stored, so its blob survived`);
      t.ok(await pushSide.registry.getLinkedBlob('app', layer), 'still linked and recorded');
    }
  }
  t.equal(refused + stored, 40);
  t.comment(`refused ${refused}, stored ${stored}`);
});

t.test('three openers migrating one empty database at once: applied once', { skip }, async (t) => {
  const url = await postgresDatabase(t);
  const backends = await Promise.all([0, 1, 2].map(() => open(url)));
  t.teardown(() => Promise.all(backends.map((b) => b.close())));
  const rows = await backends[0]!.db.query<{ version: number }>('SELECT version FROM nitro_migrations ORDER BY version');
  t.same(rows.rows.map((r) => r.version), Array.from({ length: LATEST_VERSION }, (_, i) => i + 1), 'each version recorded once');
  for (const b of backends) t.same(await b.pendingMigrations(), [], 'nothing pending');
  t.same(await backends[1]!.applyMigrations(), [], 'applying again applies nothing');
});

t.test('a database at a newer schema version than this build is refused', { skip }, async (t) => {
  const url = await postgresDatabase(t);
  const a = await open(url);
  await a.db.query("INSERT INTO nitro_migrations (version, description) VALUES (9999, 'from the future')");
  await a.close();
  await t.rejects(open(url), /newer than this server knows/);
});
