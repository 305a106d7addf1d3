/**
 * require_content_trust: manifests are served only with a cosign signature that VERIFIES against the
 * repository's public keys. Signatures are real cosign-format signatures made with node:crypto.
 */
import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture, type TapTest } from './harness.js';
import { bearer, cosignSignature, pushAs, seedToken, sigTag, uniqueImage } from './client.js';
import { multiPlatformIndex, ociImage } from '../helpers/oci.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

async function trusted(t: TapTest, keys: KeyObject[], require = true): Promise<AuthFixture> {
  const fx = await authFixture(t);
  const r = await fx.request
    .post('/api/repository')
    .set('Authorization', ADMIN)
    .send({
      name: 'secure',
      visibility: 'public',
      config: {
        type: 'Hosted',
        push_rules: { allow_tag_overwrite: true, must_be_project_member: false, must_use_auth_token_for_push: false, require_content_trust: require },
        content_trust: { public_keys: keys.map(pem) },
      },
    });
  t.equal(r.status, 201);
  return fx;
}

const codes = (body: unknown) => ((body as { errors?: { code: string }[] }).errors ?? []).map((e) => e.code);

t.test('unsigned → 403; wrong key, tampered payload → 403; verified referrer signature → 200', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { privateKey: otherKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fx = await trusted(t, [publicKey]);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'secure/app', img, 'v1', ADMIN)).status, 201, 'pushing stays possible');

  const unsigned = await fx.request.get('/v2/secure/app/manifests/v1');
  t.equal(unsigned.status, 403, 'unsigned GET refused');
  t.same(codes(unsigned.body), ['DENIED']);
  t.match(unsigned.body.errors[0].message, /require_content_trust.*no cosign signature/);
  t.equal((await fx.request.head('/v2/secure/app/manifests/v1')).status, 403, 'HEAD too');
  const pullJwt = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:secure/app:pull');
  t.equal((await fx.request.get(`/v2/secure/app/manifests/${img.digest}`).set('Authorization', bearer(pullJwt))).status, 403, "by digest, even with the admin's pull-only token");

  const wrong = cosignSignature(otherKey, 'secure/app', img.digest, { subject: img });
  t.equal((await pushAs(fx.request, 'secure/app', wrong.manifest, wrong.manifest.digest, ADMIN)).status, 201);
  const bad = await fx.request.get('/v2/secure/app/manifests/v1');
  t.equal(bad.status, 403, 'signature by an untrusted key refused');
  t.match(bad.body.errors[0].message, /none of its 1 signature\(s\) verifies/);

  const tamperedDigest = cosignSignature(privateKey, 'secure/app', img.digest, { subject: img, tamper: 'payload-digest' });
  const tamperedSig = cosignSignature(privateKey, 'secure/app', img.digest, { subject: img, tamper: 'signature' });
  for (const s of [tamperedDigest, tamperedSig]) t.equal((await pushAs(fx.request, 'secure/app', s.manifest, s.manifest.digest, ADMIN)).status, 201);
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 403, 'payload for another digest, or a flipped bit: refused');

  const good = cosignSignature(privateKey, 'secure/app', img.digest, { subject: img });
  t.equal((await pushAs(fx.request, 'secure/app', good.manifest, good.manifest.digest, ADMIN)).status, 201, 'signing stays possible');
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 200, 'signed: served by tag');
  t.equal((await fx.request.head(`/v2/secure/app/manifests/${img.digest}`)).status, 200, 'and by digest');

  const sig = await fx.request.get(`/v2/secure/app/manifests/${good.manifest.digest}`);
  t.equal(sig.status, 200, 'signatures themselves stay readable');
  const refs = await fx.request.get(`/v2/secure/app/referrers/${img.digest}`);
  t.equal(refs.status, 200);
  t.equal(refs.body.manifests.length, 4, 'referrers API lists the signatures');
});

t.test('the cosign fallback tag sha256-<hex>.sig counts; RSA and Ed25519 keys verify', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const fx = await trusted(t, [ec.publicKey, rsa.publicKey, ed.publicKey]);
  for (const [what, key, alg] of [
    ['ECDSA P-256', ec.privateKey, 'sha256'],
    ['RSA', rsa.privateKey, 'sha256'],
    ['Ed25519', ed.privateKey, null],
  ] as const) {
    const img = uniqueImage();
    const name = `secure/${what.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
    t.equal((await pushAs(fx.request, name, img, 'v1', ADMIN)).status, 201);
    t.equal((await fx.request.get(`/v2/${name}/manifests/v1`)).status, 403, `${what}: unsigned refused`);
    const s = cosignSignature(key, name, img.digest, { alg });
    t.equal((await pushAs(fx.request, name, s.manifest, sigTag(img.digest), ADMIN)).status, 201, 'signature pushed under the .sig tag');
    t.equal((await fx.request.get(`/v2/${name}/manifests/v1`)).status, 200, `${what}: signed via the .sig tag → served`);
    t.equal((await fx.request.get(`/v2/${name}/manifests/${sigTag(img.digest)}`)).status, 200, 'the .sig tag is readable');
  }
});

t.test('a signed index serves its platform manifests; an unsigned index does not', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fx = await trusted(t, [publicKey]);
  const signedIdx = multiPlatformIndex(['linux/amd64', 'linux/arm64'], {});
  t.equal((await pushAs(fx.request, 'secure/multi', signedIdx, 'v1', ADMIN)).status, 201);
  const child = signedIdx.children[0]!;
  t.equal((await fx.request.get(`/v2/secure/multi/manifests/${child.digest}`)).status, 403, 'child of an unsigned index refused');
  const s = cosignSignature(privateKey, 'secure/multi', signedIdx.digest, { subject: signedIdx });
  t.equal((await pushAs(fx.request, 'secure/multi', s.manifest, s.manifest.digest, ADMIN)).status, 201);
  t.equal((await fx.request.get('/v2/secure/multi/manifests/v1')).status, 200, 'signed index served');
  t.equal((await fx.request.get(`/v2/secure/multi/manifests/${child.digest}`)).status, 200, 'then its platform manifests');
});

t.test('rule off or no keys: unsigned content is served / explained', async (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fx = await trusted(t, [publicKey]);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'secure/app', img, 'v1', ADMIN)).status, 201);
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 403, 'rule on: refused');
  const off = await fx.request
    .put('/api/repository/secure/config')
    .set('Authorization', ADMIN)
    .send({ type: 'Hosted', push_rules: { allow_tag_overwrite: false, must_be_project_member: false, must_use_auth_token_for_push: false, require_content_trust: false } });
  t.equal(off.status, 200);
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 200, 'rule off: served at once');

  const nokeys = await fx.request.put('/api/repository/secure/config').set('Authorization', ADMIN).send({ type: 'Hosted', push_rules: { require_content_trust: true } });
  t.equal(nokeys.status, 200);
  const r = await fx.request.get('/v2/secure/app/manifests/v1');
  t.equal(r.status, 403);
  t.match(r.body.errors[0].message, /trusts no public keys/);
  const badKey = await fx.request
    .put('/api/repository/secure/config')
    .set('Authorization', ADMIN)
    .send({ type: 'Hosted', content_trust: { public_keys: ['-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'] } });
  t.equal(badKey.status, 400, 'unusable keys are refused when configured');
});

t.test('a runnable image that calls itself a signature (artifactType) is not exempt', async (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fx = await trusted(t, [publicKey]);
  for (const artifactType of ['application/vnd.dev.cosign.artifact.sig.v1+json', 'application/vnd.cncf.notary.signature']) {
    const disguised = ociImage({ artifactType, annotations: { 'test.unique': artifactType } });
    t.equal((await pushAs(fx.request, 'secure/app', disguised, 'disguised', ADMIN)).status, 201);
    const got = await fx.request.get('/v2/secure/app/manifests/disguised');
    t.equal(got.status, 403, `an unsigned image with artifactType ${artifactType} is refused`);
  }
});

t.test('accounts with write access read unsigned manifests (to sign them); everyone else still gets 403', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fx = await trusted(t, [publicKey]);
  for (const [u, role] of [['signer', 'write'], ['viewer', 'read']] as const) {
    t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: u, password: `${u}-password` })).status, 201);
    t.equal((await fx.request.put(`/api/projects/secure/members/${u}`).set('Authorization', ADMIN).send({ role })).status, 200);
  }
  const signer = basic('signer', 'signer-password');
  const viewer = basic('viewer', 'viewer-password');
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'secure/app', img, 'v1', signer)).status, 201, 'the writer pushes');

  // What cosign does: a token for pull,push, then GET/HEAD the manifest it is about to sign.
  const signJwt = await seedToken(fx.request, 'signer', 'signer-password', 'repository:secure/app:pull,push');
  for (const [what, auth] of [['Basic', signer], ['pull,push token', bearer(signJwt)], ['admin', ADMIN]] as const) {
    const get = await fx.request.get('/v2/secure/app/manifests/v1').set('Authorization', auth);
    t.equal(get.status, 200, `writer (${what}): GET unsigned manifest`);
    t.equal(get.headers['docker-content-digest'], img.digest);
    t.equal((await fx.request.head(`/v2/secure/app/manifests/${img.digest}`).set('Authorization', auth)).status, 200, `writer (${what}): HEAD by digest`);
  }
  const viewerRes = await fx.request.get('/v2/secure/app/manifests/v1').set('Authorization', viewer);
  t.equal(viewerRes.status, 403, 'read-only member: 403');
  t.match(viewerRes.body.errors[0].message, /require_content_trust/);
  t.equal((await fx.request.head('/v2/secure/app/manifests/v1').set('Authorization', viewer)).status, 403, 'HEAD too');
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 403, 'anonymous (public repository): 403');
  const pullOnly = await seedToken(fx.request, 'signer', 'signer-password', 'repository:secure/app:pull');
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1').set('Authorization', bearer(pullOnly))).status, 403, "the writer's pull-only token (a deploy job): 403");

  // The writer signs; then everyone may pull.
  const sig = cosignSignature(privateKey, 'secure/app', img.digest, { subject: img });
  t.equal((await pushAs(fx.request, 'secure/app', sig.manifest, sig.manifest.digest, bearer(signJwt))).status, 201, 'signature pushed');
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1').set('Authorization', viewer)).status, 200, 'signed: the reader pulls');
  t.equal((await fx.request.get('/v2/secure/app/manifests/v1')).status, 200, 'and anonymous clients');
});
