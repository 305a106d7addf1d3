/**
 * auth.oidc validation (every mistake is an AuthConfigError naming the setting) and the rule globs.
 */
import t from 'tap';
import { parseAuthConfig, AuthConfigError } from '../../src/auth/config.js';
import { compileGlob } from '../../src/auth/oidc/glob.js';
import { matchingGrants } from '../../src/auth/oidc/rules.js';

const RULE = { match: { repository: 'acme/app' }, grant: [{ name: 'acme/app', actions: ['pull', 'push'] }] };
const ISSUER = { issuer: 'https://token.actions.githubusercontent.com', audience: 'nitro-registry', rules: [RULE] };
const parse = (oidc: unknown) => parseAuthConfig({ oidc }, {});

t.test('a valid section', async (t) => {
  const c = parse([ISSUER]);
  t.equal(c.oidc.length, 1);
  t.same(c.oidc[0]!.audiences, ['nitro-registry']);
  t.equal(c.oidc[0]!.jwksUri, null, 'discovered');
  t.equal(c.oidc[0]!.clockSkewSeconds, 30);
  t.same(parseAuthConfig({}, {}).oidc, [], 'absent: no issuer trusted');
  t.same(parse([{ ...ISSUER, audience: ['a', 'b'], jwks_uri: 'https://x.example/jwks' }]).oidc[0]!.audiences, ['a', 'b']);
  t.equal(parse([{ ...ISSUER, issuer: 'http://127.0.0.1:8080', allow_insecure_loopback: true }]).oidc[0]!.issuer, 'http://127.0.0.1:8080');
});

t.test('mistakes are AuthConfigErrors that say what to write', async (t) => {
  const bad: [string, unknown, RegExp][] = [
    ['not a list', ISSUER, /auth\.oidc must be a list/],
    ['unknown key', [{ ...ISSUER, audiance: 'x' }], /auth\.oidc\[0\]\.audiance: unknown setting/],
    ['no issuer', [{ ...ISSUER, issuer: undefined }], /issuer must be the issuer URL/],
    ['http issuer', [{ ...ISSUER, issuer: 'http://issuer.example' }], /must be an https URL/],
    ['http loopback without the flag', [{ ...ISSUER, issuer: 'http://127.0.0.1:1' }], /allow_insecure_loopback: true/],
    ['http non-loopback even with the flag', [{ ...ISSUER, issuer: 'http://10.0.0.1', allow_insecure_loopback: true }], /must be an https URL/],
    ['bad jwks_uri', [{ ...ISSUER, jwks_uri: 'ftp://x' }], /jwks_uri must be an https URL/],
    ['no audience', [{ ...ISSUER, audience: '' }], /audience must be a non-empty string/],
    ['no rules', [{ ...ISSUER, rules: [] }], /rules must be a non-empty list/],
    ['empty match', [{ ...ISSUER, rules: [{ ...RULE, match: {} }] }], /rules\[0\]\.match must map at least one claim/],
    ['match anything', [{ ...ISSUER, rules: [{ ...RULE, match: { repository: '**' } }] }], /matches anything/],
    ['non-string match', [{ ...ISSUER, rules: [{ ...RULE, match: { run_id: 42 } }] }], /match\.run_id must be a non-empty string/],
    ['no grant', [{ ...ISSUER, rules: [{ match: RULE.match }] }], /grant must be a non-empty list/],
    ['bad action', [{ ...ISSUER, rules: [{ ...RULE, grant: [{ name: 'a', actions: ['pull', 'admin'] }] }] }], /grant\[0\]\.actions must be a non-empty list of pull, push, delete/],
    ['bad name', [{ ...ISSUER, rules: [{ ...RULE, grant: [{ name: 'Acme/App', actions: ['pull'] }] }] }], /grant\[0\]\.name must be an image name/],
    ['bad ca_file', [{ ...ISSUER, ca_file: 42 }], /ca_file must be the path of a PEM file/],
    ['bad skew', [{ ...ISSUER, clock_skew_seconds: 3600 }], /clock_skew_seconds must be an integer from 0 to 300/],
    ['twice', [ISSUER, ISSUER], /listed twice/],
  ];
  for (const [name, oidc, message] of bad) {
    t.throws(() => parse(oidc), { name: 'AuthConfigError', message }, name);
  }
  t.ok(new AuthConfigError('x') instanceof Error);
});

t.test('globs: * within a segment, ** across, anchored, literal otherwise', async (t) => {
  const g = compileGlob('refs/heads/*');
  t.ok(g('refs/heads/main'));
  t.notOk(g('refs/heads/feature/x'), '* does not cross /');
  t.notOk(g('xrefs/heads/main'), 'anchored');
  t.ok(compileGlob('acme/**')('acme/a/b/c'));
  t.notOk(compileGlob('acme/**')('acmex/a'));
  t.ok(compileGlob('v1.*')('v1.2'));
  t.notOk(compileGlob('v1.*')('v1x2'), '. is literal');
  t.ok(compileGlob('exact')('exact'));
  t.notOk(compileGlob('exact')('exactly'));
});

t.test('rules: all claims must match; grants of all matching rules add up', async (t) => {
  const c = parse([
    {
      ...ISSUER,
      rules: [
        { match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: 'acme/app', actions: ['push'] }] },
        { match: { repository_owner: 'acme' }, grant: [{ name: 'acme/**', actions: ['pull'] }] },
      ],
    },
  ]);
  const rules = c.oidc[0]!.rules;
  t.same(matchingGrants(rules, { repository: 'acme/app', ref: 'refs/heads/main', repository_owner: 'acme' }).map((g) => g.name), ['acme/app', 'acme/**']);
  t.same(matchingGrants(rules, { repository: 'acme/app', ref: 'refs/heads/dev', repository_owner: 'acme' }).map((g) => g.name), ['acme/**']);
  t.same(matchingGrants(rules, { repository: 'acme/app', ref: 'refs/heads/main' }).map((g) => g.name), ['acme/app']);
  t.same(matchingGrants(rules, { repository: 'acme/app', ref: 7 }), [], 'non-string claim never matches');
});
