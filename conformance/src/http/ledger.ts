// Everything the run pushed, learned from the registry's own answers (201s, upload Locations), so the suite can
// remove it at the end through the standard /v2/ API: manifests newest first (an index before its children),
// then blobs, then upload sessions still open. Nothing is force-deleted; what the registry refuses to delete is
// listed in the report.
import { createHash } from 'node:crypto';
import type { HttpClient } from './client.js';

const PATH = /^\/v2\/(.+)\/(manifests|blobs)\/((?:uploads(?:\/[^/]*)?)|[^/]+)$/;

export interface CleanupResult {
  removed: { manifests: number; blobs: number; uploads: number };
  /** What could not be removed, one line each (repository, what, why). */
  leftovers: string[];
}

export class Ledger {
  private seq = 0;
  private readonly manifests = new Map<string, Map<string, number>>();
  private readonly blobs = new Map<string, Set<string>>();
  /** Upload path → latest absolute upload URL. */
  private readonly uploads = new Map<string, string>();

  /** Called by the client after every exchange. */
  record(method: string, url: URL, status: number, headers: Headers, body: Buffer | string | undefined): void {
    const m = PATH.exec(url.pathname);
    if (!m) return;
    const [, repo, kind, rest] = m as unknown as [string, string, string, string];
    const headerDigest = headers.get('docker-content-digest');
    if (kind === 'manifests') {
      if (method === 'PUT' && status === 201) {
        const digest = headerDigest ?? (rest.includes(':') ? rest : body !== undefined ? 'sha256:' + createHash('sha256').update(body).digest('hex') : undefined);
        if (digest) this.map(this.manifests, repo).set(digest, this.seq++);
      } else if (method === 'DELETE' && status === 202 && rest.includes(':')) this.manifests.get(repo)?.delete(rest);
      return;
    }
    if (rest.startsWith('uploads')) {
      const key = (loc: string) => new URL(loc, url).pathname;
      const loc = headers.get('location');
      if (status === 202 && loc && (method === 'POST' || method === 'PATCH' || method === 'GET')) {
        if (method !== 'POST') this.uploads.delete(url.pathname);
        this.uploads.set(key(loc), new URL(loc, url).toString());
      }
      if (status === 201) {
        this.uploads.delete(url.pathname);
        const digest = headerDigest ?? url.searchParams.get('digest') ?? url.searchParams.get('mount');
        if (digest) this.set(this.blobs, repo).add(digest);
      }
      if (method === 'DELETE' && (status === 204 || status === 404)) this.uploads.delete(url.pathname);
      return;
    }
    if (method === 'DELETE' && status === 202) this.blobs.get(repo)?.delete(rest);
  }

  private map(m: Map<string, Map<string, number>>, k: string): Map<string, number> {
    let v = m.get(k);
    if (!v) m.set(k, (v = new Map()));
    return v;
  }
  private set(m: Map<string, Set<string>>, k: string): Set<string> {
    let v = m.get(k);
    if (!v) m.set(k, (v = new Set()));
    return v;
  }

  repositories(): string[] {
    return [...new Set([...this.manifests.keys(), ...this.blobs.keys()])].sort();
  }

  /** Delete everything recorded, through `http` (the suite's main identity). Never throws. */
  async cleanup(http: HttpClient, concurrency = 6): Promise<CleanupResult> {
    const result: CleanupResult = { removed: { manifests: 0, blobs: 0, uploads: 0 }, leftovers: [] };
    const gone = (s: number) => s === 202 || s === 204 || s === 200 || s === 404;
    const del = async (path: string) => {
      try {
        const r = await http.request('DELETE', path);
        return { status: r.status, why: `HTTP ${r.status}${r.json<{ errors?: Array<{ code?: string }> }>()?.errors?.[0]?.code ? ' ' + r.json<{ errors: Array<{ code: string }> }>()!.errors[0]!.code : ''}` };
      } catch (e) {
        return { status: 0, why: (e as Error).message };
      }
    };
    const repos = this.repositories();
    let next = 0;
    const worker = async () => {
      while (next < repos.length) {
        const repo = repos[next++]!;
        const manifests = [...(this.manifests.get(repo) ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1]).map(([d]) => d);
        const refused: string[] = [];
        for (const d of manifests) {
          const r = await del(`/v2/${repo}/manifests/${d}`);
          if (gone(r.status)) result.removed.manifests += r.status === 404 ? 0 : 1;
          else refused.push(`${repo}: manifest ${d.slice(0, 19)}… not deleted (${r.why})`);
        }
        for (const d of this.blobs.get(repo) ?? []) {
          const r = await del(`/v2/${repo}/blobs/${d}`);
          if (gone(r.status)) result.removed.blobs += r.status === 404 ? 0 : 1;
          else refused.push(`${repo}: blob ${d.slice(0, 19)}… not deleted (${r.why})`);
        }
        // One line per repository and reason is enough when a registry refuses deletes wholesale.
        if (refused.length > 3) result.leftovers.push(`${refused[0]} (and ${refused.length - 1} more in ${repo})`);
        else result.leftovers.push(...refused);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, repos.length)) }, worker));
    for (const [path, url] of this.uploads) {
      const r = await del(url);
      if (gone(r.status)) result.removed.uploads += 1;
      else result.leftovers.push(`upload session ${path} not cancelled (${r.why})`);
    }
    this.manifests.clear();
    this.blobs.clear();
    this.uploads.clear();
    return result;
  }
}
