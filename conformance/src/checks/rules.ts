// Area 7: Nitro push rules, each checked by behaviour — refused with the right status AND nothing changed.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { CheckContext, CheckDef } from '../harness/types.js';
import type { HttpClient, Res } from '../http/client.js';
import { sha256, uniqueConfig } from '../oci/digest.js';
import { MT } from '../oci/media.js';
import { errorCodes, json, ociManifest, pushBlob, pushImage, pushManifest, type PushedImage } from '../oci/push.js';
import { ociError, status } from './assert.js';
import { need, ruleTarget } from './rules-helpers.js';
import { SPEC } from './spec.js';
import { basicHeader } from '../http/auth.js';

const area = 'rules' as const;
const ACCEPT = { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') };

/** Push a second image whose manifest differs from `img` (new config) but reuses its layers. */
async function variant(http: HttpClient, image: string, img: PushedImage): Promise<{ manifest: Buffer; digest: string }> {
  const cfg = await pushBlob(http, image, uniqueConfig());
  const manifest = ociManifest({ config: { ...cfg, mediaType: MT.ociConfig }, layers: img.layers });
  return { manifest, digest: sha256(manifest) };
}

async function memberCreds(ctx: CheckContext, project: string, name: string, role: 'read' | 'write' | 'admin' | null) {
  const user = await need(ctx, 'createUser')(`nc${ctx.runId}${name}`.slice(0, 32), `Pw-${ctx.runId}-${name}-x`);
  if (role) await need(ctx, 'setMember')(project, user.username, role);
  return user;
}

/** A cosign "simple signing" signature manifest for `digest`, signed with `key`, tagged sha256-<hex>.sig. */
async function pushCosignSignature(http: HttpClient, image: string, digest: string, key: KeyObject): Promise<number> {
  const payload = json({
    critical: { identity: { 'docker-reference': image }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
    optional: null,
  });
  const signature = sign('sha256', payload, key).toString('base64');
  const layer = await pushBlob(http, image, payload);
  const cfg = await pushBlob(http, image, json({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [sha256(payload)] } }));
  const manifest = ociManifest({
    config: { ...cfg, mediaType: MT.ociConfig },
    layers: [{ ...layer, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', annotations: { 'dev.cosignproject.cosign/signature': signature } }],
  });
  const res = await pushManifest(http, image, `${digest.replace(':', '-')}.sig`, manifest, MT.ociManifest);
  return res.status;
}

/**
 * A push refused for lack of permission: 403 DENIED (OCI), or — what the Docker token spec prescribes for a
 * token-auth registry — 401 with a challenge saying error="insufficient_scope". Refusal is the MUST; the form a SHOULD.
 */
function refused(t: Parameters<CheckDef['run']>[0], res: Res, what: string): void {
  t.ok(res.status === 401 || res.status === 403, `${what}: refused (HTTP 401 or 403)`, { got: res.status, level: 'MUST' });
  if (res.status === 401) {
    t.match(res.headers.get('www-authenticate') ?? '', /error="?insufficient_scope/, `${what}: the 401 challenge says error="insufficient_scope"`, { level: 'SHOULD' });
  } else ociError(t, res, 403, 'DENIED', what, 'SHOULD');
}

export const ruleChecks: CheckDef[] = [
  {
    id: 'rules/tag-overwrite/refused',
    area,
    title: 'With allow_tag_overwrite off, pushing a different manifest to an existing tag answers 409 naming the rule, and the tag keeps its digest.',
    spec: SPEC.pushRules,
    level: 'MUST',
    async run(t, ctx) {
      const target = await ruleTarget(ctx, 'tagOverwrite', { allow_tag_overwrite: false });
      const img = await pushImage(ctx.http, target.image, 'v1');
      const other = await variant(ctx.http, target.image, img);
      const res = await pushManifest(ctx.http, target.image, 'v1', other.manifest, MT.ociManifest);
      status(t, res, 409, 'overwrite of tag v1');
      t.ok(errorCodes(res), 'refusal is an OCI error document', { got: res.text().slice(0, 200) });
      t.match(res.text(), /overwrite|allow_tag_overwrite|immutable/i, 'error names the tag-overwrite rule', { got: res.text().slice(0, 200) });
      const now = await ctx.http.request('HEAD', `/v2/${target.image}/manifests/v1`, { headers: ACCEPT });
      t.equal(now.headers.get('docker-content-digest'), img.digest, 'tag v1 still points at the original digest');
    },
  },
  {
    id: 'rules/tag-overwrite/same-digest-accepted',
    area,
    title: 'With allow_tag_overwrite off, re-pushing the same manifest to its tag is accepted (201).',
    spec: SPEC.pushRules,
    level: 'MUST',
    async run(t, ctx) {
      const target = await ruleTarget(ctx, 'tagOverwrite', { allow_tag_overwrite: false });
      const img = await pushImage(ctx.http, target.image, 'v1');
      const res = await pushManifest(ctx.http, target.image, 'v1', img.manifest, img.mediaType);
      status(t, res, 201, 're-push of identical manifest');
    },
  },
  {
    id: 'rules/tag-overwrite/concurrent-first-push',
    area,
    title: 'With allow_tag_overwrite off, two different manifests pushed at once to a new tag: exactly one wins and the tag holds it.',
    spec: SPEC.pushRules,
    level: 'MUST',
    async run(t, ctx) {
      const target = await ruleTarget(ctx, 'tagOverwrite', { allow_tag_overwrite: false });
      const img = await pushImage(ctx.http, target.image, 'seed');
      const a = await variant(ctx.http, target.image, img);
      const b = await variant(ctx.http, target.image, img);
      const [ra, rb] = await Promise.all([a, b].map((m) => pushManifest(ctx.http, target.image, 'race', m.manifest, MT.ociManifest)));
      const statuses = [ra!.status, rb!.status].sort();
      t.same(statuses, [201, 409], 'one 201 and one 409', { got: statuses });
      const winner = ra!.status === 201 ? a : b;
      const now = await ctx.http.request('HEAD', `/v2/${target.image}/manifests/race`, { headers: ACCEPT });
      t.equal(now.headers.get('docker-content-digest'), winner.digest, 'tag holds the winning digest');
    },
  },
  {
    id: 'rules/project-member/non-member-denied',
    area,
    title: 'With must_be_project_member on, a non-member push is refused 403 DENIED while a write member pushes.',
    spec: SPEC.pushRules,
    level: 'MUST',
    async run(t, ctx) {
      const target = await ruleTarget(ctx, 'projectMember', { must_be_project_member: true });
      const outsider = ctx.config.pushRules.projectMember?.nonMember ?? (await memberCreds(ctx, target.repository, 'outsider', null));
      const res = await ctx.client(outsider).request('POST', `/v2/${target.image}/blobs/uploads/`);
      refused(t, res, 'non-member opens an upload');
      if (ctx.setup?.createUser && ctx.setup.setMember) {
        const member = await memberCreds(ctx, target.repository, 'member', 'write');
        const img = await pushImage(ctx.client(member), target.image, 'v1').then(() => true, () => false);
        t.ok(img, 'a write member pushes an image');
      }
    },
  },
  {
    id: 'rules/auth-token/password-denied',
    area,
    title: 'With must_use_auth_token_for_push on, a push authenticated by password is refused 403 DENIED and one by access token succeeds.',
    spec: SPEC.pushRules,
    level: 'MUST',
    async run(t, ctx) {
      const target = await ruleTarget(ctx, 'authToken', { must_use_auth_token_for_push: true });
      let password = ctx.config.pushRules.authToken?.password;
      let token = ctx.config.pushRules.authToken?.token;
      if (!password || !token) {
        const user = await memberCreds(ctx, target.repository, 'tokenuser', 'write');
        password = user;
        token = { username: user.username, password: await need(ctx, 'createToken')(user.username, 'push') };
      }
      const byPassword = await ctx.client(password).request('POST', `/v2/${target.image}/blobs/uploads/`);
      ociError(t, byPassword, 403, 'DENIED', 'push with password');
      const ok = await pushImage(ctx.client(token), target.image, 'v1').then(() => 'ok', (e: Error) => e.message);
      t.equal(ok, 'ok', 'push with an access token succeeds');
    },
  },
  {
    id: 'rules/content-trust/unsigned-not-served',
    area,
    title: 'With require_content_trust on, a manifest is served only once a cosign signature by a trusted key references it.',
    spec: SPEC.contentTrust,
    level: 'MUST',
    async run(t, ctx) {
      let key: KeyObject;
      let pub: string;
      const pem = ctx.config.pushRules.contentTrust?.privateKeyPem;
      if (pem) {
        key = createPrivateKey(pem);
        pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
      } else {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        key = pair.privateKey;
        pub = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      }
      const target = await ruleTarget(ctx, 'contentTrust', { require_content_trust: true }, [pub]);
      const img = await pushImage(ctx.http, target.image, 'v1');
      // Accounts that may push may read an unsigned manifest (cosign reads it before signing), so what
      // must stay hidden is judged as a read-only member sees it, when the setup can make one.
      let as: { auth?: 'none'; authorization?: string } = {};
      if (ctx.setup?.createUser && ctx.setup.setMember) {
        const reader = await ctx.setup.createUser(`nc${ctx.runId}ctreader`, `Ct-reader-${ctx.runId}-pw`);
        await ctx.setup.setMember(target.repository, reader.username, 'read');
        as = { auth: 'none', authorization: basicHeader(reader) };
      }
      const unsigned = await ctx.http.request('GET', `/v2/${target.image}/manifests/v1`, { headers: ACCEPT, ...as });
      t.ok(unsigned.status >= 400 && unsigned.status < 500, 'unsigned manifest is not served', { got: unsigned.status });
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      t.equal(await pushCosignSignature(ctx.http, target.image, img.digest, stranger), 201, 'signature by an untrusted key can be pushed');
      const stillHidden = await ctx.http.request('GET', `/v2/${target.image}/manifests/v1`, { headers: ACCEPT, ...as });
      t.ok(stillHidden.status >= 400 && stillHidden.status < 500, 'a signature by an untrusted key does not unlock it', { got: stillHidden.status });
      t.equal(await pushCosignSignature(ctx.http, target.image, img.digest, key), 201, 'signature by the trusted key pushed');
      const served = await ctx.http.request('GET', `/v2/${target.image}/manifests/v1`, { headers: ACCEPT, ...as });
      status(t, served, 200, 'signed manifest is served');
      t.ok(served.body.equals(img.manifest), 'served bytes are the pushed manifest');
    },
  },
];
