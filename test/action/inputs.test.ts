// Input parsing: lists (newline, comma, CSV quotes), booleans, key=value inputs, validation.
import t from 'tap';
import { readActionInputs, readLoginInputs, readVerifyInputs } from '../../src/inputs.js';
import { parseBoolean, parseKeyValues, parseList, splitCsvLine } from '../../src/lists.js';
import { makePrivateCa } from './helpers/private-ca.js';

const getter = (values: Record<string, string>) => (name: string) => values[name] ?? '';

t.test('lists split on newlines and commas, trimmed, empties and comments dropped', async (t) => {
  t.same(parseList('a,b , c'), ['a', 'b', 'c']);
  t.same(parseList('a\nb\r\n\n  c,d  \n'), ['a', 'b', 'c', 'd']);
  t.same(parseList(''), []);
  t.same(parseList('  \n , ,\n'), []);
  t.same(parseList('# a comment\nx'), ['x']);
});

t.test('CSV quotes protect commas; newline-only lists keep commas', async (t) => {
  t.same(splitCsvLine('"a,b",c'), ['a,b', 'c']);
  t.same(splitCsvLine('"say ""hi""",x'), ['say "hi"', 'x']);
  t.same(parseList('"type=registry,ref=r/c",type=inline'), ['type=registry,ref=r/c', 'type=inline']);
  t.same(parseList('type=registry,ref=r/c:cache\ntype=gha', { commas: false }), ['type=registry,ref=r/c:cache', 'type=gha']);
});

t.test('booleans follow the YAML core schema; empty means default; anything else is an error naming the input', async (t) => {
  for (const v of ['true', 'True', 'TRUE']) t.equal(parseBoolean('x', v, false), true);
  for (const v of ['false', 'False', 'FALSE']) t.equal(parseBoolean('x', v, true), false);
  t.equal(parseBoolean('x', '', true), true);
  t.equal(parseBoolean('x', '  ', false), false);
  t.throws(() => parseBoolean('verify-pull', 'yes', false), /Input "verify-pull" must be true or false, got "yes"/);
});

t.test('key=value entries keep "=" and commas in values', async (t) => {
  t.same([...parseKeyValues('build-args', ['A=1', 'B=x=y,z', 'C='])], [['A', '1'], ['B', 'x=y,z'], ['C', '']]);
  t.throws(() => parseKeyValues('labels', ['novalue']), /Input "labels": expected KEY=VALUE, got "novalue"/);
});

t.test('action inputs parse once into a typed object with action.yml defaults', async (t) => {
  const inputs = readActionInputs(
    getter({
      registry: 'reg.example',
      username: 'u',
      password: 'p\n',
      context: '.',
      tags: 'reg.example/a:1\nreg.example/a:latest',
      platforms: 'linux/amd64, linux/arm64',
      'build-args': 'A=1\nB=2,3',
      labels: 'k=v',
      'cache-from': 'type=registry,ref=reg.example/a:cache',
      'verify-pull': 'true',
    }),
  );
  t.equal(inputs.password, 'p', 'trailing newline of a secret removed');
  t.same(inputs.tags, ['reg.example/a:1', 'reg.example/a:latest']);
  t.same(inputs.platforms, ['linux/amd64', 'linux/arm64']);
  t.same([...inputs.buildArgs], [['A', '1'], ['B', '2,3']]);
  t.same(inputs.cacheFrom, ['type=registry,ref=reg.example/a:cache']);
  t.same(
    { logout: inputs.logout, insecure: inputs.insecure, push: inputs.push, verify: inputs.verify, verifyPull: inputs.verifyPull, repair: inputs.repair, defaultLabels: inputs.defaultLabels, createBuilder: inputs.createBuilder },
    { logout: true, insecure: false, push: true, verify: true, verifyPull: true, repair: true, defaultLabels: true, createBuilder: false },
  );
});

t.test('inconsistent inputs are rejected with the input named', async (t) => {
  t.throws(() => readActionInputs(getter({ password: 'p' })), /"password" is set but "username" is empty/);
  t.throws(() => readActionInputs(getter({ username: 'u' })), /"username" is set but "password" is empty/);
  t.throws(() => readActionInputs(getter({ context: '.' })), /Input "tags" is required to push/);
  t.doesNotThrow(() => readActionInputs(getter({ context: '.', push: 'false' })));
  t.throws(() => readActionInputs(getter({ logout: 'maybe' })), /Input "logout" must be true or false/);
});

t.test('oidc: off by default; audience defaults to nitro-registry; excludes username/password', async (t) => {
  const plain = readActionInputs(getter({}));
  t.equal(plain.oidc, false);
  t.equal(plain.oidcAudience, 'nitro-registry');
  const keyless = readActionInputs(getter({ oidc: 'true', 'oidc-audience': ' my-registry ' }));
  t.equal(keyless.oidc, true);
  t.equal(keyless.oidcAudience, 'my-registry');
  t.throws(() => readActionInputs(getter({ oidc: 'true', username: 'u', password: 'p' })), /OIDC token replaces "username" and "password"/);
  t.throws(() => readActionInputs(getter({ oidc: 'yes' })), /Input "oidc" must be true or false/);
});

t.test('login/ and verify/ take the same oidc inputs: off by default, audience default, excluding username/password', async (t) => {
  for (const [name, read] of [['login', readLoginInputs], ['verify', readVerifyInputs]] as const) {
    const keyless = read(getter({ oidc: 'true', 'oidc-audience': ' my-registry ' }));
    t.equal(keyless.oidc, true, `${name}: oidc parsed`);
    t.equal(keyless.oidcAudience, 'my-registry', `${name}: audience trimmed`);
    t.equal(read(getter({ oidc: 'true' })).oidcAudience, 'nitro-registry', `${name}: default audience`);
    t.throws(() => read(getter({ oidc: 'true', username: 'u', password: 'p' })), /OIDC token replaces "username" and "password"/, `${name}: no password besides the token`);
    t.throws(() => read(getter({ oidc: 'true', password: 'p' })), /OIDC token replaces/, `${name}: not even a password alone`);
    t.throws(() => read(getter({ oidc: 'yes', username: 'u', password: 'p' })), /Input "oidc" must be true or false/, `${name}: oidc is a boolean`);
  }
  const plain = readLoginInputs(getter({ username: 'u', password: 'p' }));
  t.same({ oidc: plain.oidc, oidcAudience: plain.oidcAudience }, { oidc: false, oidcAudience: 'nitro-registry' });
  t.equal(readVerifyInputs(getter({})).oidc, false, 'verify: anonymous or stored credentials stay the default');
  t.throws(() => readLoginInputs(getter({})), /Inputs "username" and "password" are required \(or "oidc: true"/, 'login without any credential is refused');
  t.throws(() => readLoginInputs(getter({ username: 'u' })), /are required/);
});

t.test('verify inputs', async (t) => {
  const v = readVerifyInputs(getter({ images: 'a/b:1,a/b:2', pull: 'true' }));
  t.same(v.images, ['a/b:1', 'a/b:2']);
  t.equal(v.pull, true);
  t.equal(v.repair, false, 'verify-only never writes by default');
  t.equal(v.timeoutMs, 600_000, 'default overall deadline: 600 s');
  t.equal(readVerifyInputs(getter({ timeout: '30' })).timeoutMs, 30_000);
  t.equal(readVerifyInputs(getter({ timeout: '0' })).timeoutMs, 0, '0: no deadline');
  t.throws(() => readVerifyInputs(getter({ timeout: '1m' })), /Input "timeout" must be a whole number of seconds, got "1m"/);
});

t.test('ca-cert: PEM text or a file path, checked when parsed', async (t) => {
  const ca = makePrivateCa();
  t.teardown(() => ca.dispose());
  t.equal(readActionInputs(getter({ 'ca-cert': ca.caFile })).caCert, ca.caPem, 'a path is read');
  t.equal(readActionInputs(getter({ 'ca-cert': `\n${ca.caPem}\n\n` })).caCert, ca.caPem, 'PEM text is taken as is (trimmed)');
  t.equal(readActionInputs(getter({})).caCert, undefined);
  t.equal(readActionInputs(getter({})).verifyTimeoutMs, 600_000);
  t.throws(() => readVerifyInputs(getter({ 'ca-cert': '/nonexistent/ca.pem' })), /Input "ca-cert": cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
  t.throws(() => readLoginInputs(getter({ username: 'u', password: 'p', 'ca-cert': ca.keyFile })), /Input "ca-cert": no PEM certificate/);
  t.equal(readLoginInputs(getter({ username: 'u', password: 'p', 'ca-cert': ca.caFile })).caCert, ca.caPem);
});
