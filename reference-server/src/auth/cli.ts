/**
 * Account administration from the command line, on the registry's database directly (the server may be
 * running: every change is one transaction; on PostgreSQL every replica sees it at once). The database is
 * the one the server's config names (--config / NITRO_REGISTRY_DATABASE_URL), else SQLite under --data.
 *
 *   nitro-registry user add NAME [--admin] [--robot] [--password-stdin] [--data DIR]
 *   nitro-registry user passwd NAME [--password-stdin] [--data DIR]
 *   nitro-registry user rm NAME [--data DIR]
 *   nitro-registry user list [--data DIR]
 *   nitro-registry token create USER TOKEN_NAME [--scope SCOPE]... [--expires-in SECONDS] [--data DIR]
 *   nitro-registry token revoke USER TOKEN_NAME [--data DIR]
 *   nitro-registry token list USER [--data DIR]
 *
 * Passwords are read from stdin (--password-stdin) or prompted without echo — never from argv, where
 * other users could read them in the process list. A created token is printed once on stdout.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { openMetadata } from '../compose.js';
import { SQLITE_FILE } from '../metadata/sqlite/index.js';
import { Accounts, AccountError } from './accounts.js';

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo = (): CliIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });

export const USER_USAGE = `Usage:
  nitro-registry user add NAME [--admin] [--robot] [--password-stdin] [--config FILE] [--data DIR]
  nitro-registry user passwd NAME [--password-stdin] [--config FILE] [--data DIR]
  nitro-registry user rm NAME [--config FILE] [--data DIR]
  nitro-registry user list [--config FILE] [--data DIR]

Options:
  --admin            the account is a registry administrator (every repository, the admin API)
  --robot            an account without a password: it authenticates only with access tokens
                     (nitro-registry token create)
  --password-stdin   read the password (8 to 1024 characters) from stdin; else an echo-free prompt.
                     Passwords never come from the command line.
  --config FILE      the server's config file (env NITRO_REGISTRY_CONFIG): its database and data directory
  --data DIR         data directory holding the SQLite database (env NITRO_REGISTRY_DATA, default ./data)
  -h, --help         show this help

Environment: NITRO_REGISTRY_CONFIG, NITRO_REGISTRY_DATA, NITRO_REGISTRY_DATABASE_URL (PostgreSQL instead of
SQLite under --data).
Exit codes: 0 done, 1 refused (no such user, already exists...), 2 usage or configuration error,
3 environment problem (data directory cannot be created, database unreachable).
`;

export const TOKEN_USAGE = `Usage:
  nitro-registry token create USER NAME [--scope repository:NAME:ACTIONS]... [--expires-in SECONDS] [--config FILE] [--data DIR]
  nitro-registry token revoke USER NAME [--config FILE] [--data DIR]
  nitro-registry token list USER [--config FILE] [--data DIR]
The token (nrt_…) is printed once on stdout; only its hash is stored. Use it as a password (docker login).

Options:
  --scope SCOPE      limit the token, repeatable: repository:NAME:ACTIONS (NAME may end in /* or be *;
                     ACTIONS: pull,push,delete or *); default: everything the user may do
  --expires-in N     the token expires after N seconds (default: never)
  --config FILE      the server's config file (env NITRO_REGISTRY_CONFIG): its database and data directory
  --data DIR         data directory holding the SQLite database (env NITRO_REGISTRY_DATA, default ./data)
  -h, --help         show this help

Environment: NITRO_REGISTRY_CONFIG, NITRO_REGISTRY_DATA, NITRO_REGISTRY_DATABASE_URL (PostgreSQL instead of
SQLite under --data).
Exit codes: 0 done, 1 refused (no such user or token, name taken...), 2 usage or configuration error,
3 environment problem (data directory cannot be created, database unreachable).
`;

class UsageError extends Error {}

async function readAllStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stdin) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
    n += b.length;
    if (n > 4096) throw new UsageError('password on stdin is longer than 4096 bytes');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads one line from a TTY without echoing it. */
function promptHidden(io: CliIo, question: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const stdin = io.stdin;
    io.stderr.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(value);
    };
    const onData = (d: Buffer | string) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readAllStdin(io.stdin);
  if (!io.stdin.isTTY) throw new UsageError('no terminal to prompt for the password: pass it on stdin with --password-stdin');
  const a = await promptHidden(io, 'Password: ');
  const b = await promptHidden(io, 'Repeat password: ');
  if (a !== b) throw new UsageError('the passwords do not match');
  return a;
}

async function openAccounts(values: { data?: string | undefined; config?: string | undefined }, io: CliIo): Promise<{ accounts: Accounts; close: () => Promise<void> }> {
  const config = loadConfig({ file: values.config, env: io.env, flags: { data: values.data, log_level: 'silent' } });
  if (!config.database.url && !existsSync(join(config.dataDir, SQLITE_FILE))) {
    throw new UsageError(`${config.dataDir} holds no registry database (start the server once, or pass --data / --config)`);
  }
  const backend = await openMetadata(config);
  return { accounts: new Accounts(backend.accounts), close: () => backend.close() };
}

async function run(io: CliIo, usage: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UsageError || e instanceof AccountError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`error: ${(e as Error).message}\n`);
      if (e instanceof AccountError) return 1;
      io.stderr.write(usage);
      return 2;
    }
    throw e;
  }
}

export async function userCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  return run(io, USER_USAGE, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: 'string' },
        config: { type: 'string' },
        admin: { type: 'boolean' },
        robot: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout.write(USER_USAGE);
      return 0;
    }
    const [sub, name, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]} (passwords are never taken from the command line)`);
    if (sub === 'list') {
      const { accounts, close } = await openAccounts(values, io);
      try {
        for (const u of await accounts.listUsers()) io.stdout.write(`${u.username}${u.admin ? '\tadmin' : ''}${u.hasPassword ? '' : '\trobot'}\n`);
      } finally {
        await close();
      }
      return 0;
    }
    if (!name || !['add', 'passwd', 'rm'].includes(sub ?? '')) throw new UsageError('expected: user add|passwd|rm NAME, or user list');
    const password = sub === 'rm' || (sub === 'add' && values.robot) ? null : await readPassword(io, Boolean(values['password-stdin']));
    const { accounts, close } = await openAccounts(values, io);
    try {
      if (sub === 'add') {
        await accounts.createUser(name, password, Boolean(values.admin));
        io.stderr.write(`created ${values.robot ? 'robot account' : 'user'} ${name}${values.admin ? ' (administrator)' : ''}\n`);
      } else if (sub === 'passwd') {
        await accounts.setPassword(name, password!);
        await accounts.revokeRefreshTokens(name);
        io.stderr.write(`password of ${name} changed; its refresh tokens are revoked\n`);
      } else {
        if (!(await accounts.deleteUser(name))) throw new AccountError(`no user ${name}`, 'not_found');
        io.stderr.write(`removed ${name} and its tokens and memberships\n`);
      }
    } finally {
      await close();
    }
    return 0;
  });
}

export async function tokenCommand(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  return run(io, TOKEN_USAGE, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: 'string' },
        config: { type: 'string' },
        scope: { type: 'string', multiple: true },
        'expires-in': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout.write(TOKEN_USAGE);
      return 0;
    }
    const [sub, user, name, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (!user || (sub !== 'list' && !name) || !['create', 'revoke', 'list'].includes(sub ?? '')) {
      throw new UsageError('expected: token create|revoke USER NAME, or token list USER');
    }
    const { accounts, close } = await openAccounts(values, io);
    try {
      if (sub === 'create') {
        let expires: number | undefined;
        if (values['expires-in'] !== undefined) {
          if (!/^\d+$/.test(values['expires-in'])) throw new UsageError('--expires-in takes a number of seconds');
          expires = Number(values['expires-in']);
        }
        const { secret, token } = await accounts.createToken(user, name, values.scope ?? null, expires);
        io.stdout.write(`${secret}\n`);
        io.stderr.write(
          `created token ${token.name} for ${user}` +
            `${token.scopes ? ` scoped to ${token.scopes.map((s) => `${s.type}:${s.name}:${s.actions.join(',')}`).join(' ')}` : ''}` +
            `${token.expiresAt ? `, expires ${new Date(token.expiresAt).toISOString()}` : ''}; it is shown only this once\n`,
        );
      } else if (sub === 'revoke') {
        if (!(await accounts.revokeToken(user, name!))) throw new AccountError(`no token ${name} for ${user}`, 'not_found');
        io.stderr.write(`revoked token ${name} of ${user}\n`);
      } else {
        for (const t of await accounts.listTokens(user)) {
          const scopes = t.scopes ? t.scopes.map((s) => `${s.type}:${s.name}:${s.actions.join(',')}`).join(' ') : '(all of the account)';
          io.stdout.write(`${t.name}\t${scopes}\t${t.expiresAt ? new Date(t.expiresAt).toISOString() : 'never expires'}\n`);
        }
      }
    } finally {
      await close();
    }
    return 0;
  });
}
