// Challenge parsing, scope derivation and redaction: the pieces every report and token request rely on.
import t from 'tap';
import { parseChallenge, scopeFor } from '../../conformance/src/http/auth.js';
import { redactBody, redactHeader, redactUrl } from '../../conformance/src/http/redact.js';

t.test('parseChallenge reads Bearer and Basic challenges', async (t) => {
  t.same(parseChallenge('Bearer realm="https://r.example/token",service="reg",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    realm: 'https://r.example/token',
    service: 'reg',
    scope: 'repository:a/b:pull,push',
    error: undefined,
  });
  t.equal(parseChallenge('Basic realm="x"')?.scheme, 'basic');
  t.equal(parseChallenge('Negotiate abc'), undefined);
  t.equal(parseChallenge(null), undefined);
});

t.test('scopeFor maps method and path to a Docker token scope', async (t) => {
  t.equal(scopeFor('GET', '/v2/a/b/manifests/latest'), 'repository:a/b:pull');
  t.equal(scopeFor('HEAD', '/v2/a/blobs/sha256:00'), 'repository:a:pull');
  t.equal(scopeFor('POST', '/v2/a/b/c/blobs/uploads/'), 'repository:a/b/c:pull,push');
  t.equal(scopeFor('DELETE', '/v2/a/manifests/sha256:00'), 'repository:a:delete');
  t.equal(scopeFor('GET', '/v2/_catalog'), 'registry:catalog:*');
  t.equal(scopeFor('GET', '/v2/ns/tags/tags/list'), 'repository:ns/tags:pull', 'a repository named …/tags');
  t.equal(scopeFor('HEAD', '/v2/a/blobs/x/blobs/sha256:00'), 'repository:a/blobs/x:pull', 'a repository named …/blobs/…');
  t.equal(scopeFor('DELETE', '/v2/a/blobs/uploads/abc'), 'repository:a:pull,push');
  t.equal(scopeFor('POST', '/v2/x/blobs/uploads/', ['repository:y:pull']), 'repository:x:pull,push repository:y:pull');
});

t.test('secrets are redacted from headers, bodies and URLs', async (t) => {
  t.equal(redactHeader('Authorization', 'Basic dXNlcjpwYXNz'), 'Basic <redacted>');
  t.equal(redactHeader('authorization', 'Bearer eyJ.x.y'), 'Bearer <redacted>');
  t.equal(redactHeader('content-type', 'application/json'), 'application/json');
  const body = redactBody('{"token":"abc","access_token":"def","refresh_token":"ghi","expires_in":300}');
  t.notMatch(body, /abc|def|ghi/);
  t.match(body, /"expires_in":300/);
  t.equal(redactBody('grant_type=password&username=u&password=s3cret&x=1'), 'grant_type=password&username=u&password=<redacted>&x=1');
  t.notMatch(redactUrl('http://u:pw@h/x?password=p'), /pw|=p\b/);
});
