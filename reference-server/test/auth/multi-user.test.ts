/**
 * Issue 12, item 3: safe multi-user defaults. In `default`, pull is public but push/delete need the admin
 * role, the write role in project `default` (or the image's project), or the account's own namespace. A
 * private repository is members-only: pull, HEAD, tags, referrers, blobs, mounts and the catalog alike.
 */
import t from 'tap';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture, type TapTest } from './harness.js';
import { bearer, pushAs, pushBlobAs, seedToken, uniqueImage, cosignSignature } from './client.js';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { ociImage, type Built } from '../helpers/oci.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);
const USERS = ['nobody', 'reader', 'writer', 'alice', 'dwriter'] as const;
const as = (u: string) => basic(u, `${u}-password`);

async function setup(t: TapTest) {
  const fx = await authFixture(t);
  const api = (method: 'post' | 'put', path: string, body: unknown) => fx.request[method](path).set('Authorization', ADMIN).send(body as object);
  for (const name of ['hidden', 'team']) t.equal((await api('post', '/api/repository', { id: name, name, visibility: 'private' })).status, 201);
  t.equal((await api('post', '/api/repository', { id: 'open', name: 'open', visibility: 'public' })).status, 201);
  for (const u of USERS) t.equal((await api('post', '/api/users', { username: u, password: `${u}-password` })).status, 201);
  t.equal((await api('put', '/api/projects/hidden/members/reader', { role: 'read' })).status, 200);
  t.equal((await api('put', '/api/projects/team/members/writer', { role: 'write' })).status, 200);
  t.equal((await api('put', '/api/projects/default/members/dwriter', { role: 'write' })).status, 200);

  const images: Record<string, Built> = {};
  for (const name of ['hidden/app', 'team/app', 'open/app', 'shared']) {
    // hidden/app gets a layer of its own (uniqueImage() shares its layer with the public images).
    images[name] = name === 'hidden/app' ? ociImage({ files: [{ path: 'secret.txt', content: randomUUID() }] }) : uniqueImage();
    t.equal((await pushAs(fx.request, name, images[name]!, 'v1', ADMIN)).status, 201, `admin pushes ${name}`);
  }
  // A referrer (a signature) of the private image.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = cosignSignature(privateKey, 'hidden/app', images['hidden/app']!.digest, { subject: images['hidden/app']! });
  t.equal((await pushAs(fx.request, 'hidden/app', sig.manifest, sig.manifest.digest, ADMIN)).status, 201);
  return { fx, images };
}

const catalog = async (fx: AuthFixture, auth: string | undefined, n?: number) => {
  const r = fx.request.get(`/v2/_catalog${n ? `?n=${n}` : ''}`);
  const res = await (auth ? r.set('Authorization', auth) : r);
  return { status: res.status, repositories: (res.body as { repositories?: string[] }).repositories, link: res.headers.link as string | undefined };
};

t.test('a private repository is members-only: an account without a role reads nothing of it', async (t) => {
  const { fx, images } = await setup(t);
  const img = images['hidden/app']!;
  const layer = (img.doc.layers as { digest: string }[])[0]!.digest;
  for (const [who, auth, want] of [
    ['nobody (no role)', as('nobody'), 403],
    ['writer (role in another project)', as('writer'), 403],
    ['reader (read role)', as('reader'), 200],
    ['admin', ADMIN, 200],
  ] as const) {
    t.equal((await fx.request.get('/v2/hidden/app/manifests/v1').set('Authorization', auth)).status, want, `${who}: GET manifest`);
    t.equal((await fx.request.head(`/v2/hidden/app/manifests/${img.digest}`).set('Authorization', auth)).status, want, `${who}: HEAD manifest`);
    t.equal((await fx.request.get('/v2/hidden/app/tags/list').set('Authorization', auth)).status, want, `${who}: tags list`);
    t.equal((await fx.request.get(`/v2/hidden/app/referrers/${img.digest}`).set('Authorization', auth)).status, want, `${who}: referrers`);
    t.equal((await fx.request.get(`/v2/hidden/app/blobs/${layer}`).set('Authorization', auth)).status, want, `${who}: blob`);
  }
  t.equal((await fx.request.get('/v2/hidden/app/manifests/v1')).status, 401, 'anonymous: 401');

  // A JWT asked for by an account without a role grants nothing there.
  const jwt = await seedToken(fx.request, 'nobody', 'nobody-password', 'repository:hidden/app:pull');
  const viaJwt = await fx.request.get('/v2/hidden/app/manifests/v1').set('Authorization', bearer(jwt));
  t.ok(viaJwt.status === 401 || viaJwt.status === 403, `nobody's JWT: ${viaJwt.status}`);

  // Mount sources: nobody may push into its own namespace, but cannot mount a private blob from there.
  for (const q of [`mount=${layer}&from=hidden/app`, `mount=${layer}`]) {
    const r = await fx.request.post(`/v2/nobody/stolen/blobs/uploads/?${q}`).set('Authorization', as('nobody'));
    t.equal(r.status, 202, `mount ${q.includes('from') ? 'with' : 'without'} from: an upload session, not the blob`);
  }
  t.equal((await fx.request.get(`/v2/nobody/stolen/blobs/${layer}`).set('Authorization', as('nobody'))).status, 404, 'nothing mounted');
  const readerMount = await fx.request.post(`/v2/reader/copy/blobs/uploads/?mount=${layer}&from=hidden/app`).set('Authorization', as('reader'));
  t.equal(readerMount.status, 201, 'a reader of hidden mounts into its own namespace');
});

t.test('the catalog lists only what the caller can pull (account without a role, member, scoped tokens, several repositories)', async (t) => {
  const { fx } = await setup(t);
  t.same((await catalog(fx, ADMIN)).repositories, ['hidden/app', 'open/app', 'shared', 'team/app'], 'admin: everything');
  t.same((await catalog(fx, as('nobody'))).repositories, ['open/app', 'shared'], 'no role: public only');
  t.same((await catalog(fx, as('reader'))).repositories, ['hidden/app', 'open/app', 'shared'], 'read role in hidden');
  t.same((await catalog(fx, as('writer'))).repositories, ['open/app', 'shared', 'team/app'], 'write role in team');
  const page = await catalog(fx, as('nobody'), 1);
  t.same(page.repositories, ['open/app'], 'paginated: still filtered');
  t.match(page.link ?? '', /last=open%2Fapp|last=open\/app/);

  // Tokens scoped to a repository list only that (and what they can pull there).
  const pat = await fx.request.post('/api/users/admin/tokens').set('Authorization', ADMIN).send({ name: 'hidden-only', scopes: ['repository:hidden/*:pull'] });
  t.equal(pat.status, 201);
  t.same((await catalog(fx, basic('admin', pat.body.token))).repositories, ['hidden/app'], "admin's token scoped to hidden/*");
  t.same((await catalog(fx, bearer(pat.body.token))).repositories, ['hidden/app'], 'the same as a raw Bearer');
  const readerPat = await fx.request.post('/api/users/reader/tokens').set('Authorization', as('reader')).send({ name: 'team', scopes: ['repository:team/*:pull'] });
  t.same((await catalog(fx, basic('reader', readerPat.body.token))).repositories, [], "reader's token scoped to team/*: the intersection is empty");
  const jwt = await seedToken(fx.request, 'nobody', 'nobody-password', ['repository:shared:pull', 'registry:catalog:*']);
  t.same((await catalog(fx, bearer(jwt))).repositories, ['open/app', 'shared'], "nobody's JWT lists what nobody can pull");
  t.equal((await catalog(fx, undefined)).status, 401, 'anonymous: authentication required');
});

t.test('default: pull is public, push and delete need admin, the write role on default, or the own namespace', async (t) => {
  const { fx, images } = await setup(t);
  t.equal((await fx.request.get('/v2/shared/manifests/v1')).status, 200, 'anonymous pull from default');
  t.equal((await fx.request.get('/v2/shared/manifests/v1').set('Authorization', as('alice'))).status, 200, 'any account pulls');

  const overwrite = await pushAs(fx.request, 'shared', uniqueImage(), 'v1', as('alice'));
  t.equal(overwrite.status, 403, "alice cannot overwrite the admin's tag in default");
  t.match(overwrite.body.errors?.[0]?.message ?? '', /needs the write role/);
  t.equal((await fx.request.delete(`/v2/shared/manifests/${images.shared!.digest}`).set('Authorization', as('alice'))).status, 403, "nor delete the admin's manifest");
  t.equal((await pushBlobAs(fx.request, 'shared', (images.shared!.blobs[0])!, as('alice'))).status, 403, 'nor upload blobs there');
  t.equal((await fx.request.get('/v2/shared/manifests/v1')).status, 200, 'still there');
  t.equal((await pushAs(fx.request, 'bob/app', uniqueImage(), 'v1', as('alice'))).status, 403, "nor push into another account's namespace");

  const own = uniqueImage();
  t.equal((await pushAs(fx.request, 'alice/app', own, 'v1', as('alice'))).status, 201, 'alice pushes into alice/…');
  t.equal((await fx.request.delete(`/v2/alice/app/manifests/${own.digest}`).set('Authorization', as('alice'))).status, 202, 'and deletes there');
  const aliceJwt = await seedToken(fx.request, 'alice', 'alice-password', ['repository:alice/app:pull,push', 'repository:shared:pull,push']);
  t.equal((await pushAs(fx.request, 'alice/app', uniqueImage(), 'v2', bearer(aliceJwt))).status, 201, 'with a JWT too');
  t.not((await pushAs(fx.request, 'shared', uniqueImage(), 'v9', bearer(aliceJwt))).status, 201, 'her JWT got no push on shared');

  t.equal((await pushAs(fx.request, 'shared', uniqueImage(), 'v2', as('dwriter'))).status, 201, 'the write role on default pushes');
  t.equal((await fx.request.delete('/v2/shared/manifests/v2').set('Authorization', as('dwriter'))).status, 202, 'and deletes');
});

t.test('other repositories: writes need the write role in their project, public or private', async (t) => {
  const { fx } = await setup(t);
  t.equal((await pushAs(fx.request, 'team/app', uniqueImage(), 'v2', as('writer'))).status, 201, 'writer pushes to team');
  t.equal((await pushAs(fx.request, 'team/app', uniqueImage(), 'v3', as('nobody'))).status, 403, 'no role: refused');
  t.equal((await pushAs(fx.request, 'hidden/app', uniqueImage(), 'v2', as('reader'))).status, 403, 'read role: refused');
  t.equal((await pushAs(fx.request, 'open/app', uniqueImage(), 'v2', as('nobody'))).status, 403, 'public repository: no role, no push');
  t.equal((await fx.request.get('/v2/open/app/manifests/v1').set('Authorization', as('nobody'))).status, 200, 'but pull');
});
