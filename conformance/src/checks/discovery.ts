// Area 3: tag listing with pagination, catalog paging, and the referrers API.
import type { CheckDef, CheckContext } from '../harness/types.js';
import type { HttpClient } from '../http/client.js';
import { sha256, uniqueBlob } from '../oci/digest.js';
import { EMPTY_JSON, MT } from '../oci/media.js';
import { expectStatus, ociManifest, pushBlob, pushImage, pushManifest, type Descriptor, type PushedImage } from '../oci/push.js';
import { header, status } from './assert.js';
import { SPEC } from './spec.js';

const area = 'discovery' as const;
const TAGS = ['zeta', 'alpha', 'v1.0', 'beta', 'v1.1', 'gamma', '1.0.0'];
const SORTED = [...TAGS].sort();
const MAX_PAGES = 50;

/** One image tagged with every name in TAGS, pushed in an unsorted order. */
async function taggedRepo(ctx: CheckContext): Promise<string> {
  const repo = ctx.repo('');
  const img = await pushImage(ctx.http, repo, TAGS[0]!);
  for (const tag of TAGS.slice(1)) expectStatus(await pushManifest(ctx.http, repo, tag, img.manifest, img.mediaType), 201, `PUT tag ${tag}`);
  return repo;
}

function nextLink(link: string | null, base: string): string | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return m ? new URL(m[1]!, base).toString() : undefined;
}

/** Follow Link: rel="next" from `first`, bounded, collecting `key` arrays. */
async function walk(http: HttpClient, first: string, key: 'tags' | 'repositories'): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let url: string | undefined = first;
  let pages = 0;
  const base = new URL(first, 'http://placeholder.invalid');
  const n = Number(base.searchParams.get('n'));
  while (url && pages < MAX_PAGES) {
    const res = expectStatus(await http.request('GET', url), 200, `GET ${key} page`);
    pages++;
    const page = (res.json<Record<string, string[] | null>>()?.[key] ?? []) as string[];
    items.push(...page);
    url = nextLink(res.headers.get('link'), res.url);
    // The Link header is a MAY in the spec: without it, a full page means "ask again with last=".
    if (!url && n > 0 && page.length === n) {
      base.searchParams.set('last', page[page.length - 1]!);
      url = `${base.pathname}?${base.searchParams}`;
    }
  }
  return { items, pages };
}

async function subjectWithReferrers(ctx: CheckContext): Promise<{ repo: string; subject: PushedImage; refs: Array<Descriptor & { artifactType: string }> }> {
  const repo = ctx.repo('');
  const subject = await pushImage(ctx.http, repo, 'subject');
  const empty = await pushBlob(ctx.http, repo, EMPTY_JSON);
  const refs: Array<Descriptor & { artifactType: string }> = [];
  for (const artifactType of ['application/vnd.example.sbom.v1+json', 'application/vnd.example.signature.v1+json']) {
    const payload = await pushBlob(ctx.http, repo, uniqueBlob(64));
    const annotations = { 'org.example.kind': artifactType.split('.')[2]! };
    const m = ociManifest({
      artifactType,
      config: { ...empty, mediaType: MT.ociEmpty },
      layers: [{ ...payload, mediaType: artifactType }],
      subject: subject.descriptor,
      annotations,
    });
    const put = await pushManifest(ctx.http, repo, sha256(m), m, MT.ociManifest);
    expectStatus(put, 201, 'PUT referrer manifest');
    refs.push({ mediaType: MT.ociManifest, digest: sha256(m), size: m.length, artifactType, annotations });
  }
  return { repo, subject, refs };
}


export const discoveryChecks: CheckDef[] = [
  {
    id: 'discovery/tags/list-sorted',
    area,
    title: 'GET /tags/list returns the repository name and every tag in lexical order.',
    spec: SPEC.tags,
    level: 'MUST',
    async run(t, ctx) {
      const repo = await taggedRepo(ctx);
      const res = await ctx.http.request('GET', `/v2/${repo}/tags/list`);
      status(t, res, 200, 'GET tags/list');
      const j = res.json<{ name?: string; tags?: string[] }>();
      t.equal(j?.name, repo, 'name is the repository');
      t.same(j?.tags, SORTED, 'tags are complete and lexically sorted');
    },
  },
  {
    id: 'discovery/tags/paging-n',
    area,
    title: 'GET /tags/list?n=2 returns the first two tags (and, if it sends one, a well-formed Link rel="next").',
    spec: SPEC.tags,
    level: 'MUST',
    async run(t, ctx) {
      const repo = await taggedRepo(ctx);
      const res = await ctx.http.request('GET', `/v2/${repo}/tags/list?n=2`);
      status(t, res, 200, 'GET tags/list?n=2');
      t.same(res.json<{ tags?: string[] }>()?.tags, SORTED.slice(0, 2), 'exactly the first two tags');
      // A Link header MAY be included (spec): check its form when present, note its absence otherwise.
      if (res.headers.get('link') !== null) header(t, res, 'link', /rel="?next"?/, 'GET tags/list?n=2');
      else ctx.note('no Link header on a partial page (allowed: the spec says MAY); clients must page with last=');
    },
  },
  {
    id: 'discovery/tags/paging-last',
    area,
    title: 'GET /tags/list?n=2&last=<tag> returns the two tags that follow <tag>.',
    spec: SPEC.tags,
    level: 'MUST',
    async run(t, ctx) {
      const repo = await taggedRepo(ctx);
      const res = await ctx.http.request('GET', `/v2/${repo}/tags/list?n=2&last=${encodeURIComponent(SORTED[1]!)}`);
      status(t, res, 200, 'GET tags/list?n=2&last=…');
      t.same(res.json<{ tags?: string[] }>()?.tags, SORTED.slice(2, 4), 'the two tags after `last`');
    },
  },
  {
    id: 'discovery/tags/follow-link',
    area,
    title: 'Paging from ?n=3 (Link rel="next", else last=) visits every tag exactly once, in order.',
    spec: SPEC.tags,
    level: 'MUST',
    async run(t, ctx) {
      const repo = await taggedRepo(ctx);
      const { items, pages } = await walk(ctx.http, `/v2/${repo}/tags/list?n=3`, 'tags');
      t.same(items, SORTED, 'all tags, in order, no duplicates');
      t.equal(pages, Math.ceil(SORTED.length / 3), 'page count matches n=3', { got: pages });
    },
  },
  {
    id: 'discovery/catalog/paging',
    area,
    title: 'GET /_catalog?n=1 returns one repository with a Link, and paging with last reaches a pushed repository.',
    spec: SPEC.catalog,
    level: 'SHOULD',
    feature: 'catalog',
    async run(t, ctx) {
      const repos = [ctx.repo('a'), ctx.repo('b')];
      for (const r of repos) await pushImage(ctx.http, r, 'v1');
      const first = await ctx.http.request('GET', '/v2/_catalog?n=1');
      status(t, first, 200, 'GET _catalog?n=1');
      t.equal(first.json<{ repositories?: string[] }>()?.repositories?.length, 1, 'exactly one repository');
      header(t, first, 'link', /rel="?next"?/, 'GET _catalog?n=1');
      // Jump close to our repositories with `last`, so the walk stays short even on a busy registry.
      const before = repos[0]!.slice(0, -1);
      const page = await ctx.http.request('GET', `/v2/_catalog?n=1&last=${encodeURIComponent(before)}`);
      status(t, page, 200, 'GET _catalog?n=1&last=…');
      t.same(page.json<{ repositories?: string[] }>()?.repositories, [repos[0]], 'the repository right after `last`');
      const link = nextLink(page.headers.get('link'), page.url);
      t.ok(link, 'that page links to the next one');
      if (link) {
        const next = await ctx.http.request('GET', link);
        status(t, next, 200, 'GET the linked page');
        t.same(next.json<{ repositories?: string[] }>()?.repositories, [repos[1]], 'the linked page holds the next pushed repository');
      }
    },
  },
  {
    id: 'discovery/referrers/list',
    area,
    title: 'GET /referrers/<digest> returns an OCI index listing each manifest whose subject is that digest.',
    spec: SPEC.referrers,
    level: 'MUST',
    feature: 'referrers',
    async run(t, ctx) {
      const { repo, subject, refs } = await subjectWithReferrers(ctx);
      const res = await ctx.http.request('GET', `/v2/${repo}/referrers/${subject.digest}`);
      status(t, res, 200, 'GET referrers');
      header(t, res, 'content-type', MT.ociIndex, 'GET referrers');
      const idx = res.json<{ mediaType?: string; manifests?: Array<Record<string, unknown>> }>();
      t.equal(idx?.mediaType, MT.ociIndex, 'body is an OCI image index');
      const got = (idx?.manifests ?? []).map((m) => m.digest).sort();
      t.same(got, refs.map((r) => r.digest).sort(), 'lists exactly the two referrers');
      for (const r of refs) {
        const d = idx?.manifests?.find((m) => m.digest === r.digest);
        t.equal(d?.artifactType, r.artifactType, `descriptor of ${r.artifactType} carries artifactType`);
        t.same(d?.annotations, r.annotations, `descriptor of ${r.artifactType} carries the manifest annotations`);
      }
    },
  },
  {
    id: 'discovery/referrers/subject-header',
    area,
    title: 'PUT of a manifest with a subject answers with OCI-Subject naming the subject digest.',
    spec: SPEC.subject,
    level: 'MUST',
    feature: 'referrers',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const subject = await pushImage(ctx.http, repo, 'subject');
      const empty = await pushBlob(ctx.http, repo, EMPTY_JSON);
      const m = ociManifest({
        artifactType: 'application/vnd.example.note',
        config: { ...empty, mediaType: MT.ociEmpty },
        layers: [{ ...empty, mediaType: MT.ociEmpty }],
        subject: subject.descriptor,
      });
      const put = await pushManifest(ctx.http, repo, sha256(m), m, MT.ociManifest);
      status(t, put, 201, 'PUT manifest with subject');
      header(t, put, 'oci-subject', subject.digest, 'PUT manifest with subject');
    },
  },
  {
    id: 'discovery/referrers/artifact-type-filter',
    area,
    title: 'GET /referrers/<digest>?artifactType=X lists only X and answers OCI-Filters-Applied: artifactType.',
    spec: SPEC.referrers,
    level: 'SHOULD',
    feature: 'referrers',
    async run(t, ctx) {
      const { repo, subject, refs } = await subjectWithReferrers(ctx);
      const want = refs[0]!;
      const res = await ctx.http.request('GET', `/v2/${repo}/referrers/${subject.digest}?artifactType=${encodeURIComponent(want.artifactType)}`);
      status(t, res, 200, 'GET referrers?artifactType=');
      header(t, res, 'oci-filters-applied', 'artifactType', 'GET referrers?artifactType=');
      t.same(
        (res.json<{ manifests?: Array<{ digest: string }> }>()?.manifests ?? []).map((m) => m.digest),
        [want.digest],
        'only the matching referrer',
      );
    },
  },
  {
    id: 'discovery/referrers/none',
    area,
    title: 'GET /referrers/<digest> for a digest nobody refers to answers 200 with an empty index.',
    spec: SPEC.referrers,
    level: 'MUST',
    feature: 'referrers',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'lonely');
      const res = await ctx.http.request('GET', `/v2/${repo}/referrers/${img.digest}`);
      status(t, res, 200, 'GET referrers of unreferenced manifest');
      const idx = res.json<{ schemaVersion?: number; manifests?: unknown[] }>();
      t.equal(idx?.schemaVersion, 2, 'schemaVersion 2');
      t.same(idx?.manifests, [], 'manifests is an empty list');
    },
  },
];
