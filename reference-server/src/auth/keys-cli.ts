/**
 * `nitro-registry keys list|rotate|retire KID` — the token signing keys kept in the registry's database
 * (every replica reads them). Rotation adds a key and makes it active; tokens signed with older keys keep
 * verifying until those keys are retired. Replicas pick a rotation up within a minute, and at once when
 * they see a token with an unknown kid.
 */
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../config.js';
import { openMetadata } from '../compose.js';
import { KeyRing } from './keys.js';

export const KEYS_USAGE = `Usage:
  nitro-registry keys list   [--config FILE] [--data DIR]
  nitro-registry keys rotate [--config FILE] [--data DIR]
  nitro-registry keys retire KID [--config FILE] [--data DIR]

Manages the token signing keys stored in the registry's database (not used when auth.signing_key names
a key file: replace that file to rotate). After a rotation, tokens signed with the old key stay valid
until it is retired; retire it once they have expired (auth.token_ttl_seconds, default 300 s).

The database is the server's: --config FILE (or NITRO_REGISTRY_CONFIG) and NITRO_REGISTRY_DATABASE_URL,
else SQLite under --data (default $NITRO_REGISTRY_DATA or ./data).
Exit codes: 0 done, 1 refused (unknown or active key), 2 usage or configuration error.
`;

export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { config: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(KEYS_USAGE);
    return 0;
  }
  const [sub, kid, ...rest] = positionals;
  if (!['list', 'rotate', 'retire'].includes(sub ?? '') || rest.length > 0 || (sub === 'retire') !== (kid !== undefined)) {
    throw new ConfigError('expected: keys list | keys rotate | keys retire KID');
  }
  const config = loadConfig({ file: values.config, env: process.env, flags: { data: values.data, log_level: 'silent' } });
  const backend = await openMetadata(config);
  try {
    if (sub === 'list') {
      for (const k of await backend.keys.list()) {
        const state = k.active ? 'active' : k.retiredAt !== null ? `retired ${new Date(k.retiredAt).toISOString()}` : 'verifies';
        process.stdout.write(`${k.kid}\t${k.alg}\t${new Date(k.createdAt).toISOString()}\t${state}\n`);
      }
      return 0;
    }
    if (sub === 'rotate') {
      const { ring } = await KeyRing.open({ store: backend.keys, dataDir: config.dataDir });
      try {
        const key = await ring.rotate();
        process.stdout.write(`${key.kid}\n`);
        process.stderr.write(`new signing key ${key.kid} is active; older keys keep verifying until retired\n`);
      } finally {
        ring.close();
      }
      return 0;
    }
    if (!(await backend.keys.retire(kid!, Date.now()))) {
      process.stderr.write(`error: no retirable key ${kid} (unknown, already retired, or the active key)\n`);
      return 1;
    }
    process.stderr.write(`key ${kid} retired: tokens signed with it are refused from now on\n`);
    return 0;
  } finally {
    await backend.close();
  }
}
