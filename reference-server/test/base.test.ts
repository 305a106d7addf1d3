/** GET/HEAD /v2/ and the API version header on every response, errors included. */
import t from 'tap';
import { registryFixture, errorCodes } from './helpers/registry.js';

const API = 'docker-distribution-api-version';

t.test('GET and HEAD /v2/ answer 200 with the API version header', async (t) => {
  const { request } = await registryFixture(t);
  for (const path of ['/v2/', '/v2']) {
    const get = await request.get(path);
    t.equal(get.status, 200, `GET ${path}`);
    t.equal(get.headers[API], 'registry/2.0');
    t.same(get.body, {});
    const head = await request.head(path);
    t.equal(head.status, 200, `HEAD ${path}`);
    t.equal(head.headers[API], 'registry/2.0');
  }
});

t.test('the API version header is on every response, errors included', async (t) => {
  const { request } = await registryFixture(t);
  const cases: [string, string, number][] = [
    ['get', '/v2/nope/manifests/latest', 404],
    ['get', '/v2/nope/blobs/sha256:' + '0'.repeat(64), 404],
    ['get', '/v2/Bad/tags/list', 400],
    ['get', '/v2/nope/blobs/uploads/00000000-0000-0000-0000-000000000000', 404],
    ['get', '/v2/_catalog', 200],
    ['get', '/nothing/here', 404],
    ['put', '/v2/', 405],
  ];
  for (const [method, path, status] of cases) {
    const res = await (request as unknown as Record<string, (p: string) => Promise<{ status: number; headers: Record<string, string> }>>)[method]!(path);
    t.equal(res.status, status, `${method} ${path}`);
    t.equal(res.headers[API], 'registry/2.0', `${method} ${path} has the header`);
  }
});

t.test('unknown endpoints and wrong methods are JSON errors, not 500s', async (t) => {
  const { request } = await registryFixture(t);
  const notFound = await request.get('/v3/');
  t.equal(notFound.status, 404);
  t.ok(errorCodes(notFound.body).length > 0, 'error body has errors[]');
  const wrongMethod = await request.post('/v2/');
  t.equal(wrongMethod.status, 405);
  t.same(errorCodes(wrongMethod.body), ['UNSUPPORTED']);
});
