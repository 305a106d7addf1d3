/** Accounts.checkPassword remembers a success briefly; a password change or a deleted user ends that at once. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Accounts } from '../../src/auth/accounts.js';
import { verifyPassword } from '../../src/auth/passwords.js';
import { openSqliteBackend } from '../../src/metadata/sqlite/index.js';

t.test('a verified password is cached, and the cache never outlives the password', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-password-cache-'));
  const backend = openSqliteBackend(dir);
  t.teardown(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let scrypts = 0;
  const accounts = new Accounts(backend.accounts, (password, stored) => {
    scrypts++;
    return verifyPassword(password, stored);
  });
  await accounts.createUser('ci', 'first:pass', false);

  t.equal((await accounts.checkPassword('ci', 'first:pass'))?.username, 'ci', 'right password');
  t.equal(scrypts, 1, 'verified with scrypt once');
  t.equal((await accounts.checkPassword('ci', 'first:pass'))?.username, 'ci', 'again, from the cache');
  t.equal(scrypts, 1, 'the second check did not run scrypt');
  t.equal(await accounts.checkPassword('ci', 'wrong'), null, 'a wrong password is still refused');
  t.equal(scrypts, 2, 'failures are never cached');

  await accounts.setPassword('ci', 'second-password');
  t.equal(await accounts.checkPassword('ci', 'first:pass'), null, 'the old password stops working at once');
  t.equal((await accounts.checkPassword('ci', 'second-password'))?.username, 'ci');

  await accounts.deleteUser('ci');
  t.equal(await accounts.checkPassword('ci', 'second-password'), null, 'a deleted user cannot log in from the cache');
});
