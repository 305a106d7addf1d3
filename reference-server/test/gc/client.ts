/**
 * A minimal registry client for the GC stress and crash tests: pushes images the way docker does
 * (HEAD each blob, upload what is missing — monolithic, chunked or by mount —, then PUT the manifest),
 * and pulls them back checking every digest. Talks to a loopback URL only.
 */
import { createHash } from 'node:crypto';

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface PushedImage {
  name: string;
  digest: string;
  body: string;
  mediaType: string;
  /** Every blob the image needs (for an index: its children's). */
  blobs: string[];
  children: PushedImage[];
}

export class PushError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`${status} ${code}`);
  }
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export class Client {
  /** `auth`: an Authorization header sent with every request (e.g. Basic, which the registry accepts on /v2/). */
  constructor(
    readonly base: string,
    private readonly auth?: string,
  ) {}

  private async req(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) {
    const all = this.auth ? { ...headers, Authorization: this.auth } : headers;
    const res = await fetch(this.base + path, { method, headers: all, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
    const buf = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body: buf };
  }

  private static errorCode(body: Buffer): string {
    try {
      return (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors[0]!.code;
    } catch {
      return 'UNPARSEABLE';
    }
  }

  /** Uploads a blob unless the repository already has it; `style` picks the upload flavour. */
  async pushBlob(name: string, data: Buffer, style: 'monolithic' | 'chunked' | { mountFrom: string }): Promise<string> {
    const digest = sha256(data);
    const head = await this.req('HEAD', `/v2/${name}/blobs/${digest}`);
    if (head.status === 200) return digest;
    let location: string;
    if (typeof style === 'object') {
      const m = await this.req('POST', `/v2/${name}/blobs/uploads/?mount=${digest}&from=${style.mountFrom}`);
      if (m.status === 201) return digest;
      if (m.status !== 202) throw new PushError(m.status, Client.errorCode(m.body));
      location = m.headers.get('location')!;
    } else if (style === 'monolithic') {
      const r = await this.req('POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, data, { 'Content-Type': 'application/octet-stream' });
      if (r.status !== 201) throw new PushError(r.status, Client.errorCode(r.body));
      return digest;
    } else {
      const s = await this.req('POST', `/v2/${name}/blobs/uploads/`);
      if (s.status !== 202) throw new PushError(s.status, Client.errorCode(s.body));
      location = s.headers.get('location')!;
    }
    const half = Math.floor(data.length / 2);
    const p = await this.req('PATCH', location, data.subarray(0, half), {
      'Content-Type': 'application/octet-stream',
      'Content-Range': `0-${Math.max(half - 1, 0)}`,
    });
    if (p.status !== 202) throw new PushError(p.status, Client.errorCode(p.body));
    const next = p.headers.get('location') ?? location;
    const sep = next.includes('?') ? '&' : '?';
    const put = await this.req('PUT', `${next}${sep}digest=${digest}`, data.subarray(half), { 'Content-Type': 'application/octet-stream' });
    if (put.status !== 201) throw new PushError(put.status, Client.errorCode(put.body));
    return digest;
  }

  async putManifest(name: string, ref: string, body: string, mediaType: string): Promise<string> {
    const r = await this.req('PUT', `/v2/${name}/manifests/${ref}`, body, { 'Content-Type': mediaType });
    if (r.status !== 201) throw new PushError(r.status, Client.errorCode(r.body));
    return r.headers.get('docker-content-digest')!;
  }

  /** Pushes an image: blobs, then the manifest (by tag, or by digest when tag is null). */
  async pushImage(
    name: string,
    tag: string | null,
    config: Buffer,
    layers: Buffer[],
    opts: { style?: (i: number) => 'monolithic' | 'chunked' | { mountFrom: string }; subject?: PushedImage; artifactType?: string } = {},
  ): Promise<PushedImage> {
    const style = opts.style ?? (() => 'monolithic' as const);
    const cfg = await this.pushBlob(name, config, style(0));
    const ls: string[] = [];
    for (const [i, l] of layers.entries()) ls.push(await this.pushBlob(name, l, style(i + 1)));
    const doc = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: config.length },
      layers: ls.map((d, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: layers[i]!.length })),
      ...(opts.subject ? { subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: Buffer.byteLength(opts.subject.body) } } : {}),
    };
    const body = JSON.stringify(doc);
    const digest = sha256(body);
    await this.putManifest(name, tag ?? digest, body, OCI_MANIFEST);
    return { name, digest, body, mediaType: OCI_MANIFEST, blobs: [cfg, ...ls], children: [] };
  }

  async pushIndex(name: string, tag: string, children: PushedImage[]): Promise<PushedImage> {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: Buffer.byteLength(c.body) })),
    });
    const digest = sha256(body);
    await this.putManifest(name, tag, body, OCI_INDEX);
    return { name, digest, body, mediaType: OCI_INDEX, blobs: children.flatMap((c) => c.blobs), children };
  }

  async deleteManifest(name: string, ref: string): Promise<number> {
    return (await this.req('DELETE', `/v2/${name}/manifests/${ref}`)).status;
  }

  /**
   * Pulls `ref` completely: the manifest (its digest must be `expectDigest`), index children, and every
   * blob, each checked against its digest. Returns a list of problems (empty = complete).
   */
  async pullProblems(name: string, ref: string, expectDigest: string): Promise<string[]> {
    const problems: string[] = [];
    const m = await this.req('GET', `/v2/${name}/manifests/${ref}`, undefined, { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` });
    if (m.status !== 200) return [`${name}:${ref} manifest → ${m.status}`];
    if (sha256(m.body) !== expectDigest) return [`${name}:${ref} points at ${sha256(m.body)}, expected ${expectDigest}`];
    const doc = JSON.parse(m.body.toString()) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    if (doc.manifests) {
      for (const c of doc.manifests) problems.push(...(await this.pullProblems(name, c.digest, c.digest)));
      return problems;
    }
    for (const d of [doc.config!.digest, ...doc.layers!.map((l) => l.digest)]) {
      const b = await this.req('GET', `/v2/${name}/blobs/${d}`);
      if (b.status !== 200) problems.push(`${name} blob ${d} → ${b.status}`);
      else if (sha256(b.body) !== d) problems.push(`${name} blob ${d} has wrong content`);
    }
    return problems;
  }

  async manifestStatus(name: string, ref: string): Promise<number> {
    return (await this.req('HEAD', `/v2/${name}/manifests/${ref}`, undefined, { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` })).status;
  }
}
