/**
 * The four push rules, each proven on and off: every "refused" assertion has a twin showing the same
 * request succeeds once the rule is switched off through the API (which also proves rule changes take
 * effect at once).
 */
import t from 'tap';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture, type TapTest } from './harness.js';
import { bearer, pushAs, uniqueImage, putManifestAs, seedToken } from './client.js';
import { artifact, multiPlatformIndex } from '../helpers/oci.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);
const RULES_OFF = { allow_tag_overwrite: true, must_be_project_member: false, must_use_auth_token_for_push: false, require_content_trust: false };

async function withRepo(t: TapTest, rules: Record<string, boolean>): Promise<AuthFixture> {
  const fx = await authFixture(t);
  const r = await fx.request
    .post('/api/repository')
    .set('Authorization', ADMIN)
    .send({ name: 'my-project', visibility: 'private', config: { type: 'Hosted', push_rules: { ...RULES_OFF, ...rules } } });
  t.equal(r.status, 201, 'repository created');
  return fx;
}

const setRules = async (fx: AuthFixture, rules: Record<string, boolean>) => {
  const r = await fx.request.put('/api/repository/my-project/config').set('Authorization', ADMIN).send({ type: 'Hosted', push_rules: { ...RULES_OFF, ...rules } });
  if (r.status !== 200) throw new Error(`config update → ${r.status}`);
};

const codes = (body: unknown) => ((body as { errors?: { code: string }[] }).errors ?? []).map((e) => e.code);

t.test('allow_tag_overwrite=false → 409; tag keeps its digest; same digest OK; tag delete refused; fallback tags writable', async (t) => {
  const fx = await withRepo(t, { allow_tag_overwrite: false });
  const a = uniqueImage();
  const b = uniqueImage();
  t.equal((await pushAs(fx.request, 'my-project/myapp', a, 'v1', ADMIN)).status, 201);
  const over = await pushAs(fx.request, 'my-project/myapp', b, 'v1', ADMIN);
  t.equal(over.status, 409, 'overwrite refused');
  t.same(codes(over.body), ['DENIED']);
  t.match(over.body.errors[0].message, /allow_tag_overwrite/);
  const head = await fx.request.head('/v2/my-project/myapp/manifests/v1').set('Authorization', ADMIN);
  t.equal(head.headers['docker-content-digest'], a.digest, 'tag keeps its digest');
  t.equal((await pushAs(fx.request, 'my-project/myapp', a, 'v1', ADMIN)).status, 201, 're-push of the same digest succeeds');
  t.equal((await fx.request.delete('/v2/my-project/myapp/manifests/v1').set('Authorization', ADMIN)).status, 409, 'tag delete refused');
  t.equal((await fx.request.delete(`/v2/my-project/myapp/manifests/${a.digest}`).set('Authorization', ADMIN)).status, 409, 'deleting the tagged manifest by digest refused');
  const layer = a.blobs[a.blobs.length - 1]!.digest;
  t.equal((await fx.request.delete(`/v2/my-project/myapp/blobs/${layer}`).set('Authorization', ADMIN)).status, 409, 'unlinking a layer of a stored manifest refused');
  t.equal((await fx.request.head(`/v2/my-project/myapp/blobs/${layer}`).set('Authorization', ADMIN)).status, 200, 'the layer is still there');

  const fallback = `${a.digest.replace(':', '-')}`;
  const idx1 = artifact({ artifactType: 'application/vnd.test' });
  const idx2 = artifact({ artifactType: 'application/vnd.test' });
  t.equal((await pushAs(fx.request, 'my-project/myapp', idx1, fallback, ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'my-project/myapp', idx2, fallback, ADMIN)).status, 201, 'referrer fallback tag stays writable');
  t.equal((await pushAs(fx.request, 'my-project/myapp', idx2, `${fallback}.sig`, ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'my-project/myapp', idx1, `${fallback}.sig`, ADMIN)).status, 201, 'cosign .sig tag stays writable');

  await setRules(fx, { allow_tag_overwrite: true });
  t.equal((await pushAs(fx.request, 'my-project/myapp', b, 'v1', ADMIN)).status, 201, 'rule off: overwrite allowed');
  t.equal((await fx.request.delete('/v2/my-project/myapp/manifests/v1').set('Authorization', ADMIN)).status, 202, 'rule off: tag delete allowed');
  t.equal((await fx.request.delete(`/v2/my-project/myapp/blobs/${layer}`).set('Authorization', ADMIN)).status, 202, 'rule off: blob delete allowed');
});

t.test('allow_tag_overwrite=false: a platform manifest of a tagged index cannot be deleted from under it', async (t) => {
  const fx = await withRepo(t, { allow_tag_overwrite: false });
  const idx = multiPlatformIndex(['linux/amd64', 'linux/arm64'], {});
  t.equal((await pushAs(fx.request, 'my-project/multi', idx, 'v1', ADMIN)).status, 201);
  const child = idx.children[0]!;
  t.equal((await fx.request.delete(`/v2/my-project/multi/manifests/${child.digest}`).set('Authorization', ADMIN)).status, 409, 'child delete refused');
  t.equal((await fx.request.get(`/v2/my-project/multi/manifests/${child.digest}`).set('Authorization', ADMIN)).status, 200, 'the child is still served');
  await setRules(fx, { allow_tag_overwrite: true });
  t.equal((await fx.request.delete(`/v2/my-project/multi/manifests/${child.digest}`).set('Authorization', ADMIN)).status, 202, 'rule off: allowed');
});

t.test('allow_tag_overwrite=false: two concurrent first pushes of a tag — exactly one wins', async (t) => {
  const fx = await withRepo(t, { allow_tag_overwrite: false });
  const images = Array.from({ length: 6 }, () => uniqueImage());
  // Blobs first, so the race is between the manifest PUTs only.
  for (const img of images) t.equal((await pushAs(fx.request, 'my-project/race', img, img.digest, ADMIN)).status, 201);
  const results = await Promise.all(images.map((img) => putManifestAs(fx.request, 'my-project/race', 'contested', img, ADMIN)));
  const statuses = results.map((r) => r.status).sort();
  t.same(statuses, [201, 409, 409, 409, 409, 409], 'one 201, the rest 409');
  const winner = images[results.findIndex((r) => r.status === 201)]!;
  const head = await fx.request.head('/v2/my-project/race/manifests/contested').set('Authorization', ADMIN);
  t.equal(head.headers['docker-content-digest'], winner.digest, 'the tag names the winner');
});

t.test('must_be_project_member → 403 DENIED for non-members and readers; write role pushes', async (t) => {
  const fx = await withRepo(t, { must_be_project_member: true });
  for (const u of ['bob', 'rita']) await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: u, password: `${u}-password` });
  const bob = basic('bob', 'bob-password');
  const rita = basic('rita', 'rita-password');
  const img = uniqueImage();

  const denied = await pushAs(fx.request, 'my-project/myapp', img, 'v1', bob);
  t.equal(denied.status, 403, 'non-member push refused');
  t.same(codes(denied.body), ['DENIED']);
  t.match(denied.body.errors[0].message, /must_be_project_member.*not a member/);

  // Token flow: the grant leaves push out and the push is refused with the reason.
  const tok = await seedToken(fx.request, 'bob', 'bob-password', 'repository:my-project/myapp:pull,push');
  const viaToken = await pushAs(fx.request, 'my-project/myapp', img, 'v1', bearer(tok));
  t.equal(viaToken.status, 403, 'non-member push with a token refused');

  t.equal((await fx.request.put('/api/projects/my-project/members/rita').set('Authorization', ADMIN).send({ role: 'read' })).status, 200);
  t.equal((await pushAs(fx.request, 'my-project/myapp', img, 'v1', rita)).status, 403, 'read role cannot push');
  t.equal((await fx.request.put('/api/projects/my-project/members/rita').set('Authorization', ADMIN).send({ role: 'write' })).status, 200);
  t.equal((await pushAs(fx.request, 'my-project/myapp', img, 'v1', rita)).status, 201, 'write role pushes (membership change applies at once)');
  t.equal((await fx.request.get('/v2/my-project/myapp/manifests/v1').set('Authorization', bob)).status, 403, 'private repo: non-member cannot pull either');
  t.equal((await fx.request.delete('/v2/my-project/myapp/manifests/v1').set('Authorization', bob)).status, 403, 'non-member delete refused');
  t.ok(fx.logLines.some((l) => l.audit === true && l.event === 'denied' && l.user === 'bob'), 'denials are audited');

  await setRules(fx, { must_be_project_member: false });
  // Rule off: the defaults still want the write role in the project (docs/auth.md, "who may do what").
  t.equal((await pushAs(fx.request, 'my-project/myapp', uniqueImage(), 'v2', bob)).status, 403, 'rule off: a non-member still cannot push');
  t.equal((await fx.request.put('/api/projects/my-project/members/bob').set('Authorization', ADMIN).send({ role: 'write' })).status, 200);
  t.equal((await pushAs(fx.request, 'my-project/myapp', uniqueImage(), 'v2', bob)).status, 201, 'rule off: a writer pushes');
  t.equal((await fx.request.delete('/v2/my-project/myapp/manifests/v2').set('Authorization', bob)).status, 202, 'rule off: and deletes');
});

t.test('must_use_auth_token_for_push → password push 403 (Basic or JWT from a password); access token pushes', async (t) => {
  const fx = await withRepo(t, { must_use_auth_token_for_push: true });
  await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'ci', password: 'ci-password' });
  await fx.request.put('/api/projects/my-project/members/ci').set('Authorization', ADMIN).send({ role: 'write' });
  const pat = (await fx.request.post('/api/users/ci/tokens').set('Authorization', ADMIN).send({ name: 'pipeline', scopes: ['repository:my-project/*:pull,push'] }))
    .body.token as string;
  const img = uniqueImage();

  const basicPw = await pushAs(fx.request, 'my-project/myapp', img, 'v1', basic('ci', 'ci-password'));
  t.equal(basicPw.status, 403, 'Basic with a password refused');
  t.same(codes(basicPw.body), ['DENIED']);
  t.match(basicPw.body.errors[0].message, /must_use_auth_token_for_push.*access token, not an account password/);
  const pwJwt = await seedToken(fx.request, 'ci', 'ci-password', 'repository:my-project/myapp:pull,push');
  t.equal((await pushAs(fx.request, 'my-project/myapp', img, 'v1', bearer(pwJwt))).status, 403, 'JWT obtained with a password refused');
  t.equal((await pushAs(fx.request, 'my-project/myapp', img, 'v1', ADMIN)).status, 403, 'admins too');

  t.equal((await pushAs(fx.request, 'my-project/myapp', img, 'v1', basic('ci', pat))).status, 201, 'Basic with the access token pushes');
  const patJwt = await seedToken(fx.request, 'ci', pat, 'repository:my-project/myapp:pull,push');
  t.equal((await pushAs(fx.request, 'my-project/myapp', uniqueImage(), 'v2', bearer(patJwt))).status, 201, 'JWT obtained with the access token pushes');
  t.equal((await fx.request.get('/v2/my-project/myapp/manifests/v1').set('Authorization', basic('ci', 'ci-password'))).status, 200, 'pulls with a password still work');

  await setRules(fx, { must_use_auth_token_for_push: false });
  t.equal((await pushAs(fx.request, 'my-project/myapp', uniqueImage(), 'v3', basic('ci', 'ci-password'))).status, 201, 'rule off: password push allowed');
});

t.test('rules apply by repository ownership: longest name wins, the default owns the rest', async (t) => {
  const fx = await withRepo(t, { allow_tag_overwrite: false });
  const r = await fx.request
    .post('/api/repository')
    .set('Authorization', ADMIN)
    .send({ name: 'my-project/open', config: { type: 'Hosted', push_rules: { allow_tag_overwrite: true } } });
  t.equal(r.status, 201);
  const a = uniqueImage();
  const b = uniqueImage();
  t.equal((await pushAs(fx.request, 'my-project/open/app', a, 'v1', ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'my-project/open/app', b, 'v1', ADMIN)).status, 201, 'the longer-named repository allows overwrite');
  t.equal((await pushAs(fx.request, 'my-project-other/app', a, 'v1', ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'my-project-other/app', b, 'v1', ADMIN)).status, 201, 'a name merely starting with the same letters is not owned');
  t.equal((await pushAs(fx.request, 'my-project', a, 'v1', ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'my-project', b, 'v1', ADMIN)).status, 409, 'the repository owns its exact name');
  t.equal(fx.auth.repositories.forImage('elsewhere/x').name, 'default');
  t.same(fx.auth.repositories.imageNamesOf('my-project', ['my-project', 'my-project/a', 'my-project/open/b', 'x']), ['my-project', 'my-project/a']);
});

t.test("rules a repository does not list default to the quick reference's table (all false); the default repository states its own", async (t) => {
  const fx = await authFixture(t, { repositories: [{ name: 'from-file', config: { type: 'Hosted' } }] });
  const created = await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ name: 'from-api', config: { type: 'Hosted' } });
  t.equal(created.status, 201);
  for (const name of ['from-api', 'from-file']) {
    const repo = fx.auth.repositories.get(name)!;
    t.same(fx.auth.repositories.rules(repo), { ...RULES_OFF, allow_tag_overwrite: false }, `${name}: every rule false`);
    const a = uniqueImage();
    t.equal((await pushAs(fx.request, `${name}/app`, a, 'v1', ADMIN)).status, 201);
    const over = await pushAs(fx.request, `${name}/app`, uniqueImage(), 'v1', ADMIN);
    t.equal(over.status, 409, `${name}: a plain {"type":"Hosted"} keeps tags immutable`);
    t.match(over.body.errors[0].message, /allow_tag_overwrite/);
    t.equal((await pushAs(fx.request, `${name}/app`, a, 'v1', ADMIN)).status, 201, `${name}: the same digest again is fine`);
  }
  // The built-in default repository allows overwrites (docker push :latest twice) and says so at start-up.
  t.same(fx.auth.repositories.rules(fx.auth.repositories.get('default')!), RULES_OFF);
  t.equal((await pushAs(fx.request, 'elsewhere/app', uniqueImage(), 'latest', ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'elsewhere/app', uniqueImage(), 'latest', ADMIN)).status, 201, 'default repository: overwrite allowed');
  t.ok(
    fx.auth.startupMessages.some((m) => m.includes('repository "default"') && m.includes('allow_tag_overwrite=true') && m.includes('every push rule to false')),
    'the banner states the default repository\'s rules',
  );
});
