/**
 * Issue 12, item 4: login throttling that cannot be turned against others. Failures count per (address,
 * user) and per user with exponential backoff; a flood of failures for other or unknown users from one
 * address never refuses the correct password of an account nobody attacked. X-Forwarded-For counts only
 * from proxies named in auth.trust_proxy (or with trust_forwarded_headers, the rightmost hop).
 */
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture } from './harness.js';
import { clientAddress } from '../../src/auth/proxy.js';
import { parseAuthConfig } from '../../src/auth/config.js';

// Every login runs scrypt (unknown users against a dummy hash): slow on a loaded machine, never a threshold.
t.setTimeout(600_000);

const ADMIN = basic('admin', ADMIN_PASSWORD);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const login = (fx: AuthFixture, user: string, password: string, xff?: string) => {
  const r = fx.request.get('/v2/').set('Authorization', basic(user, password));
  return xff === undefined ? r : r.set('X-Forwarded-For', xff);
};
const tokenLogin = (fx: AuthFixture, user: string, password: string) =>
  fx.request.post('/api/auth/token').type('form').send({ grant_type: 'password', username: user, password, service: 'nitro-repo' });

async function withUsers(fx: AuthFixture, users: string[]) {
  for (const u of users) await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: u, password: `${u}-password` });
}

t.test('a flood of failures for other and unknown users from one address does not lock out accounts nobody attacked', async (t) => {
  const fx = await authFixture(t, { auth: { login_rate_limit: { max_failures: 3, window_seconds: 600 } } });
  await withUsers(fx, ['bob', 'carol']);
  // The attacker tries bob's password, then sprays unknown and other names (more than main's old
  // per-address limit of 5 × max_failures).
  let refused = 0;
  for (let i = 0; i < 5; i++) {
    const r = await login(fx, 'bob', 'wrong-password');
    if (r.status === 429) refused++;
    else t.equal(r.status, 401);
  }
  t.ok(refused > 0, `the attacked account is throttled (${refused} of 5 answered 429)`);
  for (let i = 0; i < 20; i++) t.equal((await login(fx, `ghost-${i}`, 'wrong-password')).status, 401, `unknown user ${i}: 401, never 429`);

  const admin = await login(fx, 'admin', ADMIN_PASSWORD);
  t.equal(admin.status, 200, 'admin with the right password: 200, not 429');
  t.equal((await tokenLogin(fx, 'admin', ADMIN_PASSWORD)).status, 200, 'and gets a token');
  t.equal((await login(fx, 'carol', 'carol-password')).status, 200, 'carol too');
  t.ok(fx.logLines.some((l) => l.event === 'login_rate_limited' && l.user === 'bob'), 'the throttling of bob is audited');
});

t.test('backoff: after the threshold each failure doubles the wait; the right password works once it is over', async (t) => {
  const fx = await authFixture(t, { auth: { login_rate_limit: { max_failures: 2, window_seconds: 600 } } });
  await withUsers(fx, ['dave']);
  for (let i = 0; i < 2; i++) t.equal((await login(fx, 'dave', 'wrong-password')).status, 401);
  const first = await login(fx, 'dave', 'dave-password');
  t.equal(first.status, 429, 'threshold reached: even the right password waits');
  const wait1 = Number(first.headers['retry-after']);
  t.ok(wait1 >= 1 && wait1 <= 5, `first wait ${wait1} s`);
  const end1 = Date.now() + wait1 * 1000;
  await sleep(wait1 * 1000 + 200);
  t.equal((await login(fx, 'dave', 'wrong-password')).status, 401, 'after the wait a guess is checked again (and fails)');
  const second = await login(fx, 'dave', 'dave-password');
  t.equal(second.status, 429);
  const end2 = Date.now() + Number(second.headers['retry-after']) * 1000;
  t.ok(end2 - end1 >= 3000, `the next wait ends later (${Math.round((end2 - end1) / 1000)} s after the first)`);
  await sleep(Number(second.headers['retry-after']) * 1000 + 200);
  t.equal((await login(fx, 'dave', 'dave-password')).status, 200, 'the right password after the wait');
  t.equal((await login(fx, 'dave', 'wrong-password')).status, 401, 'a success clears the counters: a typo is a plain 401 again');
});

t.test('behind a proxy: X-Forwarded-For from trusted hops only; per-user counting catches a distributed attack', async (t) => {
  // The test client connects from 127.0.0.1: that is the proxy.
  const fx = await authFixture(t, { auth: { trust_proxy: ['127.0.0.1', '10.0.0.0/8'], login_rate_limit: { max_failures: 3, user_max_failures: 8, window_seconds: 60 } } });
  await withUsers(fx, ['erin', 'frank']);
  // A client behind the proxy (192.0.2.7) spoofs the leftmost entry on every attempt: all count for 192.0.2.7.
  for (let i = 0; i < 3; i++) t.equal((await login(fx, 'erin', 'wrong-password', `203.0.113.${i}, 192.0.2.7, 10.1.1.1`)).status, 401);
  t.equal((await login(fx, 'erin', 'erin-password', '198.51.100.99, 192.0.2.7')).status, 429, 'spoofed entries do not give a fresh counter');
  t.equal((await login(fx, 'erin', 'erin-password', '192.0.2.8')).status, 200, 'another client behind the same proxy is not refused');

  // Failures for frank from 8 different addresses: the account itself is under attack now.
  for (let i = 0; i < 8; i++) t.equal((await login(fx, 'frank', 'wrong-password', `198.51.100.${i}`)).status, 401);
  t.equal((await login(fx, 'frank', 'frank-password', '198.51.100.200')).status, 429, 'per-user backoff applies from any address');
  t.equal((await login(fx, 'admin', ADMIN_PASSWORD, '198.51.100.1')).status, 200, 'the attacking addresses do not lock out others');
});

t.test('without trust_proxy, X-Forwarded-For is ignored (it cannot pick the throttling key)', async (t) => {
  const fx = await authFixture(t, { auth: { login_rate_limit: { max_failures: 2, window_seconds: 60 } } });
  await withUsers(fx, ['gina']);
  for (let i = 0; i < 2; i++) t.equal((await login(fx, 'gina', 'wrong-password', `198.51.100.${i}`)).status, 401);
  t.equal((await login(fx, 'gina', 'gina-password', '198.51.100.77')).status, 429, 'a forged header does not reset the count');
});

t.test('clientAddress: trusted hops only', async (t) => {
  const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
  const none = { trustForwardedHeaders: false, trustProxy: [] };
  const oneHop = { trustForwardedHeaders: true, trustProxy: [] };
  const list = { trustForwardedHeaders: false, trustProxy: ['10.0.0.0/8', '::1'] };
  t.equal(clientAddress(req('::ffff:127.0.0.1', '1.2.3.4'), none), '127.0.0.1', 'nothing trusted: the peer');
  t.equal(clientAddress(req('127.0.0.1', '1.2.3.4, 5.6.7.8'), oneHop), '5.6.7.8', 'one hop: the rightmost entry');
  t.equal(clientAddress(req('10.0.0.2', '1.2.3.4, 5.6.7.8, 10.9.9.9'), list), '5.6.7.8', 'the first untrusted hop from the right');
  t.equal(clientAddress(req('192.0.2.1', '1.2.3.4'), list), '192.0.2.1', 'an untrusted peer: its header is ignored');
  t.equal(clientAddress(req('::1', 'not-an-ip, 10.0.0.1'), list), '::1', 'garbage in the chain: the peer');
  t.equal(clientAddress(req('::1'), list), '::1', 'no header: the peer');
  t.throws(() => parseAuthConfig({ trust_proxy: ['10.0.0.0/33'] }, {}), /not an IP address or CIDR/);
  t.throws(() => parseAuthConfig({ login_rate_limit: { max_failure: 3 } }, {}), /unknown setting/);
  t.same(parseAuthConfig({ trust_proxy: '10.0.0.0/8, 127.0.0.1' }, {}).trustProxy, ['10.0.0.0/8', '127.0.0.1'], 'env-style comma list');
});
