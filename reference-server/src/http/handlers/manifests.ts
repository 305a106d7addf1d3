/** /v2/<name>/manifests/<reference> — GET, HEAD, PUT, DELETE by tag or digest. */
import type { Route, RequestContext } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { RegistryError, throwIfRefused } from '../../oci/errors.js';
import { digestOf, parseDigest } from '../../oci/digest.js';
import { enrichAttachment, parseManifest } from '../../oci/manifest.js';
import { MAX_MANIFEST_BYTES } from '../../oci/media-types.js';
import { readBody, sendEmpty } from '../respond.js';
import { referenceParam, repositoryName, type Reference } from '../names.js';
import { isValidTag } from '../../oci/names.js';
import type { ManifestRecord } from '../../metadata/store.js';

const PATTERN = /^\/v2\/(?<name>.+)\/manifests\/(?<reference>[^/]+)$/;

/** Tags a PUT names: the reference when it is a tag, else the OCI 1.1 `?tag=` parameters (several allowed). */
function tagsOf(ref: Reference, url: URL): string[] {
  if (ref.kind === 'tag') return [ref.tag];
  const tags = url.searchParams.getAll('tag');
  for (const t of tags) if (!isValidTag(t)) throw new RegistryError('TAG_INVALID', 'invalid tag parameter', { tag: t });
  return [...new Set(tags)];
}

/**
 * A reader asks "what is stored under this reference?"; for one that cannot exist the answer is the
 * spec's 404 (as CNCF Distribution answers), not a 400 — the official conformance suite checks this.
 * Writers (PUT, DELETE) keep the 400 TAG_INVALID / DIGEST_INVALID that tells them their input is wrong.
 */
function readableReference(value: string | undefined): Reference | null {
  try {
    return referenceParam(value);
  } catch (e) {
    if (e instanceof RegistryError) return null;
    throw e;
  }
}

export function manifestRoutes(deps: RegistryDeps): Route[] {
  const resolve = async (ctx: RequestContext): Promise<ManifestRecord> => {
    const name = repositoryName(ctx.params);
    ctx.log.repository = name;
    const ref = readableReference(ctx.params.reference);
    if (!ref) throw new RegistryError('MANIFEST_UNKNOWN', 'no manifest can have this reference', { name, reference: ctx.params.reference });
    const digest = ref.kind === 'digest' ? ref.digest : await deps.meta.resolveTag(name, ref.tag);
    const manifest = digest ? await deps.meta.getManifest(name, digest) : null;
    if (!manifest) {
      const e = (await deps.meta.repositoryExists(name)) ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN';
      throw new RegistryError(e, undefined, { name, reference: ctx.params.reference });
    }
    await deps.hooks.beforeManifestServe({ name, digest: manifest.digest, mediaType: manifest.mediaType, principal: ctx.principal });
    return manifest;
  };

  const serveHeaders = (m: ManifestRecord) => ({
    'Content-Type': m.mediaType,
    'Content-Length': m.size,
    'Docker-Content-Digest': m.digest,
    ETag: `"${m.digest}"`,
  });

  const pull = (p: Readonly<Record<string, string>>) => ({ kind: 'repository' as const, name: p.name ?? '', actions: ['pull' as const] });

  return [
    {
      method: 'GET',
      name: 'manifest_get',
      pattern: PATTERN,
      access: pull,
      async handle(ctx) {
        const m = await resolve(ctx);
        ctx.res.writeHead(200, serveHeaders(m));
        ctx.res.end(m.body);
        ctx.log.bytesOut = m.size;
      },
    },
    {
      method: 'HEAD',
      name: 'manifest_head',
      pattern: PATTERN,
      access: pull,
      async handle(ctx) {
        const m = await resolve(ctx);
        sendEmpty(ctx.res, 200, serveHeaders(m));
      },
    },
    {
      method: 'PUT',
      name: 'manifest_put',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull', 'push'] }),
      async handle(ctx) {
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        const ref = referenceParam(ctx.params.reference);
        const tags = tagsOf(ref, ctx.url);
        const body = await readBody(
          ctx.req,
          MAX_MANIFEST_BYTES,
          () => new RegistryError('MANIFEST_TOO_LARGE', `manifest exceeds the ${MAX_MANIFEST_BYTES} byte limit`),
        );
        ctx.log.bytesIn = body.length;
        const algorithm = ref.kind === 'digest' ? parseDigest(ref.digest)!.algorithm : 'sha256';
        const digest = digestOf(body, algorithm);
        if (ref.kind === 'digest' && ref.digest !== digest) {
          throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match its content', { expected: ref.digest, actual: digest });
        }
        const parsed = parseManifest(body, ctx.req.headers['content-type']);
        // An index's attestation entries become referrers of the manifests they describe; what they
        // attest (predicate types) is in the child, pushed before the index.
        const references = await Promise.all(
          parsed.references.map(async (r) =>
            r.describes ? { ...r, describes: enrichAttachment(r.describes, (await deps.meta.getManifest(name, r.digest))?.body ?? null) } : r,
          ),
        );
        const rules = await deps.hooks.beforeManifestPut({ name, tags, digest, principal: ctx.principal });
        const result = await deps.meta.putManifest(
          {
            repository: name,
            digest,
            mediaType: parsed.mediaType,
            body,
            subject: parsed.subject,
            artifactType: parsed.artifactType,
            annotations: parsed.annotations,
            references,
            attestation: parsed.attestation,
          },
          tags,
          rules,
        );
        if (result.missing.length > 0) {
          throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references ${result.missing.length} unknown blob(s) or manifest(s)`, {
            missing: result.missing.map((r) => r.digest),
          });
        }
        if (result.conflict) {
          throw new RegistryError('TAG_IMMUTABLE', undefined, { rule: 'allow_tag_overwrite', tag: result.conflict.tag, current: result.conflict.current });
        }
        sendEmpty(ctx.res, 201, {
          Location: `/v2/${name}/manifests/${digest}`,
          'Docker-Content-Digest': digest,
          ...(parsed.subject ? { 'OCI-Subject': parsed.subject } : {}),
          ...(ref.kind === 'digest' && result.tagsSet.length > 0 ? { 'OCI-Tag': [...result.tagsSet] } : {}),
        });
      },
    },
    {
      method: 'DELETE',
      name: 'manifest_delete',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['delete'] }),
      async handle(ctx) {
        if (!deps.options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        const ref = referenceParam(ctx.params.reference);
        if (ref.kind === 'tag') {
          const digest = await deps.meta.resolveTag(name, ref.tag);
          if (!digest) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { name, tag: ref.tag });
          const rules = await deps.hooks.beforeDelete({ name, tag: ref.tag, digest, principal: ctx.principal });
          throwIfRefused(await deps.meta.deleteTag(name, ref.tag, rules), () => new RegistryError('MANIFEST_UNKNOWN', undefined, { name, tag: ref.tag }));
        } else {
          const rules = await deps.hooks.beforeDelete({ name, tag: null, digest: ref.digest, principal: ctx.principal });
          throwIfRefused(await deps.meta.deleteManifest(name, ref.digest, rules), () => new RegistryError('MANIFEST_UNKNOWN', undefined, { name, digest: ref.digest }));
        }
        sendEmpty(ctx.res, 202);
      },
    },
  ];
}
