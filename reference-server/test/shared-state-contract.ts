/**
 * The contract of the shared-state stores (accounts, Nitro repositories, signing keys, throttles), run
 * against every metadata backend: on PostgreSQL these are what make replicas agree on who may do what.
 */
import type { Test } from 'tap';
import type { MetadataBackend } from '../src/metadata/backend.js';

export interface SharedStateHandle {
  readonly backend: MetadataBackend;
  cleanup(): Promise<void> | void;
}

export type SharedStateFactory = () => Promise<SharedStateHandle> | SharedStateHandle;

export function sharedStateContract(t: Test, factory: SharedStateFactory): void {
  const withBackend = (name: string, fn: (t: Test, b: MetadataBackend) => Promise<void>) =>
    t.test(name, async (t) => {
      const h = await factory();
      t.teardown(() => h.cleanup());
      await fn(t, h.backend);
    });

  withBackend('accounts: users, tokens, members, refresh tokens; deleting a user takes everything of theirs', async (t, b) => {
    const a = b.accounts;
    t.equal(await a.insertUser({ username: 'ann', passwordHash: 'h1', admin: true, createdAt: 1 }), true);
    t.equal(await a.insertUser({ username: 'ann', passwordHash: 'h2', admin: false, createdAt: 2 }), false, 'no duplicates');
    await a.insertUser({ username: 'bob', passwordHash: null, admin: false, createdAt: 3 });
    t.same(await a.getUser('ann'), { username: 'ann', passwordHash: 'h1', admin: true, createdAt: 1 });
    t.same((await a.listUsers()).map((u) => u.username), ['ann', 'bob']);
    t.equal(await a.setPasswordHash('ann', 'h3'), true);
    t.equal(await a.setPasswordHash('nobody', 'h'), false);
    t.equal(await a.setAdmin('bob', true), true);
    t.match(await a.getUser('bob'), { admin: true, passwordHash: null });

    const id = await a.insertToken({ username: 'bob', name: 'ci', tokenHash: 'th1', scopes: ['repository:x:pull'], expiresAt: 99, createdAt: 5 });
    t.type(id, 'number');
    t.equal(await a.insertToken({ username: 'bob', name: 'ci', tokenHash: 'th2', scopes: null, expiresAt: null, createdAt: 6 }), null, 'names are unique per user');
    t.match(await a.tokenByHash('th1'), { id, username: 'bob', name: 'ci', scopes: ['repository:x:pull'], expiresAt: 99, lastUsedAt: null });
    await a.touchToken(id!, 77);
    t.match(await a.tokenById(id!), { lastUsedAt: 77 });
    t.same((await a.listTokens('bob')).map((x) => x.name), ['ci']);

    await a.setMember('proj', 'bob', 'write');
    await a.setMember('proj', 'ann', 'read');
    await a.setMember('proj', 'ann', 'admin');
    t.equal(await a.roleIn('proj', 'ann'), 'admin', 'setMember replaces the role');
    t.same(await a.members('proj'), [
      { username: 'ann', role: 'admin' },
      { username: 'bob', role: 'write' },
    ]);
    t.same([...(await a.memberships('bob')).entries()], [['proj', 'write']]);
    await a.setMember('proj', 'ann', null);
    t.equal(await a.roleIn('proj', 'ann'), null);
    t.equal(await a.removeMember('proj', 'ann'), false);

    await a.insertRefreshToken('rh1', { username: 'bob', method: 'access-token', tokenId: id, expiresAt: 1000 });
    await a.insertRefreshToken('rh2', { username: 'ann', method: 'password', tokenId: null, expiresAt: 10 });
    t.same(await a.refreshTokenByHash('rh1'), { username: 'bob', method: 'access-token', tokenId: id, expiresAt: 1000 });
    await a.deleteExpiredRefreshTokens(500);
    t.equal(await a.refreshTokenByHash('rh2'), null, 'expired refresh tokens are purged');

    t.equal(await a.deleteToken('bob', 'ci'), true);
    t.equal(await a.refreshTokenByHash('rh1'), null, "a token's refresh tokens go with it");
    await a.insertToken({ username: 'bob', name: 'ci2', tokenHash: 'th3', scopes: null, expiresAt: null, createdAt: 7 });
    await a.insertRefreshToken('rh3', { username: 'bob', method: 'password', tokenId: null, expiresAt: 1000 });
    t.equal(await a.deleteUser('bob'), true);
    t.equal(await a.getUser('bob'), null);
    t.equal(await a.tokenByHash('th3'), null, 'tokens gone');
    t.equal(await a.refreshTokenByHash('rh3'), null, 'refresh tokens gone');
    t.same(await a.members('proj'), [], 'memberships gone');
    t.equal(await a.deleteUser('bob'), false);
  });

  withBackend('repositories: insert conflicts, updates, declarations, and a version that moves on every write', async (t, b) => {
    const r = b.repositories;
    const v0 = await r.version();
    const row = { id: 'id-1', name: 'team', visibility: 'private' as const, config: '{"type":"Hosted"}', source: 'api' as const, createdAt: 1 };
    t.equal(await r.insert(row), 'ok');
    const v1 = await r.version();
    t.not(v1, v0, 'insert bumps the version');
    t.equal(await r.insert({ ...row, id: 'id-2' }), 'name-taken');
    t.equal(await r.insert({ ...row, name: 'other' }), 'id-taken');
    t.equal(await r.update('id-1', { visibility: 'public', config: '{"type":"Hosted","push_rules":{}}' }), true);
    t.equal(await r.update('nope', { visibility: 'public' }), false);
    t.match((await r.list()).find((x) => x.id === 'id-1'), { visibility: 'public', config: '{"type":"Hosted","push_rules":{}}' });
    t.not(await r.version(), v1);
    const ensure = [{ id: 'default', name: 'default', visibility: 'public' as const, config: '{"type":"Hosted"}', source: 'builtin' as const, createdAt: 1 }];
    await r.applyDeclared([{ ...row, id: 'team-decl', visibility: 'private', source: 'config' }], ensure);
    const list = await r.list();
    t.same(list.map((x) => [x.id, x.name, x.source]).sort(), [
      ['default', 'default', 'builtin'],
      ['team-decl', 'team', 'config'],
    ], 'a declaration replaces the repository of the same name; ensure adds the default once');
    await r.applyDeclared([], ensure);
    t.equal((await r.list()).length, 2, 'ensure is idempotent');
    t.equal(await r.delete('team-decl'), true);
    t.equal(await r.delete('team-decl'), false);
  });

  withBackend('signing keys: the first active key wins, rotation switches it, retired keys disappear', async (t, b) => {
    const k = b.keys;
    t.same(await k.list(), []);
    const first = await k.add({ kid: 'k1', alg: 'ES256', privatePem: 'pem1', createdAt: 1, active: true, retiredAt: null }, { onlyIfNone: true });
    t.equal(first.kid, 'k1');
    const again = await k.add({ kid: 'k2', alg: 'ES256', privatePem: 'pem2', createdAt: 2, active: true, retiredAt: null }, { onlyIfNone: true });
    t.equal(again.kid, 'k1', 'another replica starting at the same time gets the existing key');
    const rotated = await k.add({ kid: 'k3', alg: 'ES256', privatePem: 'pem3', createdAt: 3, active: true, retiredAt: null }, { onlyIfNone: false });
    t.equal(rotated.kid, 'k3');
    const keys = await k.list();
    t.same(keys.filter((x) => x.active).map((x) => x.kid), ['k3'], 'exactly one active key');
    t.ok(keys.some((x) => x.kid === 'k1' && !x.active && x.retiredAt === null), 'the old key still verifies');
    t.equal(await k.retire('k3', 9), false, 'the active key cannot be retired');
    t.equal(await k.retire('k1', 9), true);
    t.match((await k.list()).find((x) => x.kid === 'k1'), { retiredAt: 9 });
  });

  withBackend('throttle: windows count, expire and reset', async (t, b) => {
    const th = b.throttle;
    t.same(await th.peek(['a'], 1000, 5000), [{ count: 0, since: 5000 }]);
    t.same(await th.hit(['a', 'b'], 1000, 5000), [
      { count: 1, since: 5000 },
      { count: 1, since: 5000 },
    ]);
    t.same(await th.hit(['a'], 1000, 5500), [{ count: 2, since: 5000 }]);
    t.same(await th.peek(['a', 'b'], 1000, 5900), [
      { count: 2, since: 5000 },
      { count: 1, since: 5000 },
    ]);
    t.same(await th.hit(['a'], 1000, 6000), [{ count: 1, since: 6000 }], 'a new window after the old one ended');
    await th.reset('a');
    t.same(await th.peek(['a'], 1000, 6001), [{ count: 0, since: 6001 }]);
    const nul = 'login\u0000203.0.113.9\u0000ann';
    t.same(await th.hit([nul], 1000, 7000), [{ count: 1, since: 7000 }], 'keys may hold any character (callers join parts with NUL)');
    t.same(await th.peek([nul, 'login'], 1000, 7001), [{ count: 1, since: 7000 }, { count: 0, since: 7001 }]);
    const parallel = await Promise.all(Array.from({ length: 10 }, () => th.hit(['c'], 60_000, 7000)));
    t.same(parallel.map((w) => w[0]!.count).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'concurrent hits are all counted');
  });
}
