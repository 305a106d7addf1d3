/** Accounts.checkPassword remembers a success briefly; a password change or a deleted user ends that at once. */
import t from 'tap';
import Database from 'better-sqlite3';
import { Accounts } from '../../src/auth/accounts.js';

t.test('a verified password is cached, and the cache never outlives the password', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  const accounts = new Accounts(db);
  await accounts.createUser('ci', 'first:pass', false);

  const t0 = performance.now();
  t.equal((await accounts.checkPassword('ci', 'first:pass'))?.username, 'ci', 'right password');
  const slow = performance.now() - t0;
  const t1 = performance.now();
  t.equal((await accounts.checkPassword('ci', 'first:pass'))?.username, 'ci', 'again, from the cache');
  const fast = performance.now() - t1;
  t.ok(fast < slow / 5, `cached check is much cheaper (${fast.toFixed(2)} ms vs ${slow.toFixed(1)} ms)`);
  t.equal(await accounts.checkPassword('ci', 'wrong'), null, 'a wrong password is still refused');

  await accounts.setPassword('ci', 'second-password');
  t.equal(await accounts.checkPassword('ci', 'first:pass'), null, 'the old password stops working at once');
  t.equal((await accounts.checkPassword('ci', 'second-password'))?.username, 'ci');

  accounts.deleteUser('ci');
  t.equal(await accounts.checkPassword('ci', 'second-password'), null, 'a deleted user cannot log in from the cache');
});
