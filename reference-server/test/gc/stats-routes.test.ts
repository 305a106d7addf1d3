/** GET /api/repository/{id}/stats and POST /api/repository/{id}/gc through their routes. */
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import request from 'supertest';
import { makeFixture } from './fixture.js';
import { gcRoutes } from '../../src/gc/routes.js';
import { prefixScope, WHOLE_REGISTRY } from '../../src/gc/scope.js';
import { ANONYMOUS_ADMIN } from '../../src/registry/access.js';
import { isRegistryError } from '../../src/oci/errors.js';
import { sendError } from '../../src/http/respond.js';
import type { Route } from '../../src/http/route.js';

/** The part of server.ts's dispatch these routes need. */
function serve(routes: Route[]) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
    if (!route) return void res.writeHead(404).end();
    const params = { ...(route.pattern.exec(url.pathname)!.groups ?? {}) };
    route
      .handle({ req, res, url, params, principal: ANONYMOUS_ADMIN, signal: new AbortController().signal, log: {} })
      .catch((e: unknown) => (isRegistryError(e) ? sendError(res, e) : res.writeHead(500).end(String(e))));
  });
}

t.test('stats are correct after pushes, mounts, deletes and GC', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const scopes: Record<string, ReturnType<typeof prefixScope>> = { proj: prefixScope('proj', 'proj'), other: prefixScope('other', 'other') };
  const routes = gcRoutes({ gc: f.gc, stats: f.stats, resolveScope: (id) => (id === '*' ? WHOLE_REGISTRY : scopes[id] ?? null) });
  const app = serve(routes);

  const a = await f.image('proj/app', 'v1', ['shared-layer', 'a-layer']);
  await f.image('proj/tool', 'v1', ['shared-layer']);
  t.same(await f.meta.listTags('proj/app', {}), ['v1']);
  await f.putManifest('proj/app', JSON.parse((await f.meta.getManifest('proj/app', a.digest))!.body.toString()), 'latest');
  t.ok(await f.meta.linkBlob(a.blobs[1]!, 'other/app'), 'mount the shared layer into another repository');

  let s = (await request(app).get('/api/repository/proj/stats').expect(200)).body;
  t.match(s, { repository_id: 'proj', name: 'proj', total_images: 2, total_tags: 3, total_manifests: 2, total_blobs: 4, last_gc: null });
  const sizes = new Map<string, number>();
  for (const d of [...a.blobs, ...(await f.gcStore.linksOf('proj/tool')).map((l) => l.digest)]) sizes.set(d, (await f.meta.getBlob(d))!.size);
  const bytes = (ds: string[]) => ds.reduce((n, d) => n + sizes.get(d)!, 0);
  const manifestBytes =
    (await f.meta.getManifest('proj/app', a.digest))!.size + (await f.meta.getManifest('proj/tool', (await f.meta.resolveTag('proj/tool', 'v1'))!))!.size;
  const distinct = [...sizes.keys()];
  t.equal(s.storage_used, bytes(distinct) + manifestBytes, 'shared layer counted once');
  t.equal(s.last_push, new Date(f.now()).toISOString());
  s = (await request(app).get('/api/repository/other/stats').expect(200)).body;
  t.match(s, { total_images: 1, total_tags: 0, total_manifests: 0, total_blobs: 1 });

  t.ok(await f.deleteManifest('proj/app', a.digest));
  f.advance(10);
  const gc = await request(app).post('/api/repository/proj/gc').send({ grace_seconds: 0 }).expect(200);
  t.match(gc.body, { repository_id: 'proj', dry_run: false, manifests_deleted: 0, blobs_deleted: 2, uploads_purged: 0 });
  t.type(gc.body.duration_ms, 'number');
  t.type(gc.body.bytes_freed, 'number');
  s = (await request(app).get('/api/repository/proj/stats').expect(200)).body;
  t.match(s, { total_images: 1, total_tags: 1, total_manifests: 1, total_blobs: 2, last_gc: new Date(f.now()).toISOString() });

  await request(app).post('/api/repository/proj/gc').send({ dry_run: 'yes' }).expect(400);
  await request(app).post('/api/repository/proj/gc').send({ grace_seconds: -1 }).expect(400);
  await request(app).post('/api/repository/proj/gc').send({ surprise: 1 }).expect(400);
  await request(app).post('/api/repository/proj/gc').set('Content-Type', 'application/json').send('{nope').expect(400);
  const unknown = await request(app).post('/api/repository/nope/gc').expect(404);
  t.equal(unknown.body.errors[0].code, 'REPOSITORY_UNKNOWN');
  await request(app).get('/api/repository/nope/stats').expect(404);
  const dry = await request(app).post('/api/repository/proj/gc').send({ dry_run: true, grace_seconds: 0, delete_untagged: true }).expect(200);
  t.equal(dry.body.dry_run, true);
});

t.test('routes declare the access they need', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const [gcRoute, statsRoute] = gcRoutes({ gc: f.gc, stats: f.stats, resolveScope: () => null });
  const url = new URL('http://x/');
  // maintenance: what a repository-scoped registry JWT may still do on /api/ (docs/auth.md)
  t.strictSame(gcRoute!.access({ id: 'r1' }, url), { kind: 'admin', maintenance: true });
  t.strictSame(statsRoute!.access({ id: 'r1' }, url), { kind: 'repository-admin-read', repositoryId: 'r1', maintenance: true });
});

t.test('metrics and the audit line', async (t) => {
  const { Registry } = await import('prom-client');
  const { createGcMetrics } = await import('../../src/gc/metrics.js');
  const { GarbageCollector } = await import('../../src/gc/collector.js');
  const { parseGcConfig } = await import('../../src/gc/policy.js');
  const { pino } = await import('pino');
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const registry = new Registry();
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const gc = new GarbageCollector({
    gcStore: f.gcStore, meta: f.meta, blobs: f.blobs, uploadTtlSeconds: 60, config: parseGcConfig({}), now: f.now, log, metrics: createGcMetrics(registry),
  });
  await f.pushBlob('m/app', 'x');
  f.advance(1);
  await gc.run({ graceSeconds: 0, principal: 'alice' });
  const text = await registry.metrics();
  t.match(text, /nitro_registry_gc_runs_total\{repository="\*",dry_run="false",result="ok"\} 1/);
  t.match(text, /nitro_registry_gc_deleted_total\{kind="blob"\} 1/);
  t.match(text, /nitro_registry_gc_bytes_freed_total 1/);
  const audit = lines.map((l) => JSON.parse(l)).find((l) => l.audit === 'gc');
  t.match(audit, { principal: 'alice', repository_id: '*', blobs_deleted: 1, msg: 'gc run' });
});
