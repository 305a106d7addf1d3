/** tags/list and _catalog: sorted, n / last pagination with a Link header, NAME_UNKNOWN. */
import t, { type Test } from 'tap';
import { registryFixture, errorCodes, pushBlob, pushTree, putManifest, type RegistryFixture } from './helpers/registry.js';
import { ociImage, randomBlob } from './helpers/oci.js';

/** Follows Link headers from `first`, returning every page's items; bounded. */
async function walk(t: Test, fx: RegistryFixture, first: string, key: 'tags' | 'repositories'): Promise<string[][]> {
  const pages: string[][] = [];
  let next: string | null = first;
  for (let i = 0; next && i < 50; i++) {
    const res = await fx.request.get(next);
    t.equal(res.status, 200, `GET ${next}`);
    pages.push(res.body[key] as string[]);
    const link = res.headers.link as string | undefined;
    if (link) {
      const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
      t.ok(m, `Link is RFC 5988: ${link}`);
      next = m ? m[1]! : null;
    } else next = null;
  }
  return pages;
}

// Byte order: digits < upper case < '_' < lower case.
const TAGS = ['v1.0', 'latest', 'V2', '1.0', 'a_b', 'a-b', 'a.b', 'Z', '_private', 'zeta', 'alpha', '0'];
const SORTED = [...TAGS].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));

t.test('tags/list is sorted and paginated with n, last and Link', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage();
  await pushTree(fx.request, 'ns/app', m);
  for (const tag of TAGS) t.equal((await putManifest(fx.request, 'ns/app', tag, m)).status, 201, `tag ${tag}`);

  const all = await fx.request.get('/v2/ns/app/tags/list');
  t.equal(all.status, 200);
  t.match(all.headers['content-type'], /^application\/json/);
  t.same(all.body, { name: 'ns/app', tags: SORTED }, 'all tags, in lexical (byte) order');
  t.notOk(all.headers.link, 'no Link when everything fits');

  const first = await fx.request.get('/v2/ns/app/tags/list?n=5');
  t.same(first.body.tags, SORTED.slice(0, 5));
  t.equal(first.headers.link, `</v2/ns/app/tags/list?n=5&last=${encodeURIComponent(SORTED[4]!)}>; rel="next"`);

  const pages = await walk(t, fx, '/v2/ns/app/tags/list?n=5', 'tags');
  t.same(pages, [SORTED.slice(0, 5), SORTED.slice(5, 10), SORTED.slice(10)], 'Link pages cover every tag once');

  const afterLast = await fx.request.get(`/v2/ns/app/tags/list?last=${encodeURIComponent(SORTED[2]!)}`);
  t.same(afterLast.body.tags, SORTED.slice(3), 'last without n');
  const exact = await fx.request.get(`/v2/ns/app/tags/list?n=${TAGS.length}`);
  t.same(exact.body.tags, SORTED);
  t.notOk(exact.headers.link, 'no Link when n covers everything exactly');
  const zero = await fx.request.get('/v2/ns/app/tags/list?n=0');
  t.equal(zero.status, 200);
  t.same(zero.body.tags, [], 'n=0 → empty list');
  const beyond = await fx.request.get('/v2/ns/app/tags/list?last=zzzz');
  t.same(beyond.body.tags, []);
  for (const n of ['-1', 'abc', '1.5']) {
    const bad = await fx.request.get(`/v2/ns/app/tags/list?n=${n}`);
    t.equal(bad.status, 400, `n=${n} → 400`);
  }
});

t.test('tags/list: the page size is capped by max_page_size', async (t) => {
  const fx = await registryFixture(t, { max_page_size: 3 });
  const m = ociImage();
  await pushTree(fx.request, 'r', m);
  for (const tag of ['a', 'b', 'c', 'd', 'e']) await putManifest(fx.request, 'r', tag, m);
  const res = await fx.request.get('/v2/r/tags/list?n=100');
  t.same(res.body.tags, ['a', 'b', 'c']);
  t.ok(res.headers.link, 'Link to the rest');
});

t.test('tags/list of an unknown repository → 404 NAME_UNKNOWN; known but untagged → empty list', async (t) => {
  const fx = await registryFixture(t);
  const unknown = await fx.request.get('/v2/not/there/tags/list');
  t.equal(unknown.status, 404);
  t.same(errorCodes(unknown.body), ['NAME_UNKNOWN']);
  const m = ociImage();
  await pushTree(fx.request, 'untagged', m); // by digest only
  const res = await fx.request.get('/v2/untagged/tags/list');
  t.equal(res.status, 200);
  t.same(res.body, { name: 'untagged', tags: [] });
});

t.test('_catalog is sorted, paginated, and forgets emptied repositories', async (t) => {
  const fx = await registryFixture(t);
  const repos = ['zz/last', 'a/first', 'mid', 'b-repo', 'a/first/nested', 'b.repo', 'ns/app'];
  const sorted = [...repos].sort();
  for (const r of repos) t.equal((await pushBlob(fx.request, r, randomBlob(16))).status, 201);

  const all = await fx.request.get('/v2/_catalog');
  t.equal(all.status, 200);
  t.same(all.body, { repositories: sorted });
  t.notOk(all.headers.link);

  const first = await fx.request.get('/v2/_catalog?n=3');
  t.same(first.body.repositories, sorted.slice(0, 3));
  t.equal(first.headers.link, `</v2/_catalog?n=3&last=${encodeURIComponent(sorted[2]!)}>; rel="next"`);
  const pages = await walk(t, fx, '/v2/_catalog?n=3', 'repositories');
  t.same(pages.flat(), sorted, 'pages cover every repository once');
  t.equal(pages.length, 3);
  const after = await fx.request.get(`/v2/_catalog?last=${encodeURIComponent('mid')}`);
  t.same(after.body.repositories, sorted.filter((r) => r > 'mid'));

  // Emptying a repository (its only blob link and manifest gone) removes it from the catalog.
  const m = ociImage();
  await pushTree(fx.request, 'temp/repo', m, 'v1');
  t.ok((await fx.request.get('/v2/_catalog')).body.repositories.includes('temp/repo'));
  t.equal((await fx.request.delete(`/v2/temp/repo/manifests/${m.digest}`)).status, 202);
  for (const b of m.blobs) t.equal((await fx.request.delete(`/v2/temp/repo/blobs/${b.digest}`)).status, 202);
  t.notOk((await fx.request.get('/v2/_catalog')).body.repositories.includes('temp/repo'), 'emptied repository is gone');
  const tags = await fx.request.get('/v2/temp/repo/tags/list');
  t.equal(tags.status, 404, 'and its tags/list is NAME_UNKNOWN');
});

t.test('_catalog of an empty registry is an empty list', async (t) => {
  const fx = await registryFixture(t);
  const res = await fx.request.get('/v2/_catalog');
  t.equal(res.status, 200);
  t.same(res.body, { repositories: [] });
  t.equal((await fx.request.get('/v2/_catalog?n=x')).status, 400);
});
