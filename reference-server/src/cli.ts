/**
 * `nitro-registry serve [--config FILE] [--listen HOST:PORT] [--data DIR] [--tls-cert F --tls-key F] [--log-level L]`
 */
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from './config.js';
import { startRegistry } from './server.js';

export const SERVE_USAGE = `Usage: nitro-registry serve [options]

Serves an OCI Distribution / Docker Registry v2 registry.

Options (flags override NITRO_REGISTRY_* environment variables, which override the config file):
  --config FILE        YAML or JSON config file            (env NITRO_REGISTRY_CONFIG)
  --listen HOST:PORT   address to listen on                (env NITRO_REGISTRY_LISTEN, default 127.0.0.1:5000)
  --data DIR           data directory, created if needed   (env NITRO_REGISTRY_DATA, default ./data)
  --tls-cert FILE      PEM certificate, serve HTTPS        (env NITRO_REGISTRY_TLS_CERT)
  --tls-key FILE       PEM private key                     (env NITRO_REGISTRY_TLS_KEY)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (env NITRO_REGISTRY_LOG_LEVEL, default info)
  --no-auth            anonymous read/write, like registry:2 (env NITRO_REGISTRY_AUTH=false)
  -h, --help           show this help

Other environment variables:
  NITRO_REGISTRY_ADMIN_PASSWORD      password of the "admin" account created at the first start (8 to 1024
                                     characters; else one is generated and printed once)
  NITRO_REGISTRY_AUTH                true|false: token auth on (default) or anonymous read/write
  NITRO_REGISTRY_EXTERNAL_URL        base URL clients use (realm of the 401 challenge)
  NITRO_REGISTRY_DATABASE_URL        postgres://… metadata database shared by replicas (default SQLite under --data)
  NITRO_REGISTRY_STORAGE_DRIVER      filesystem (default) | s3 (settings in the config file's storage.s3)
  NITRO_REGISTRY_UPLOAD_TTL_SECONDS  idle upload sessions older than this are purged (default 86400)
The config file holds every other setting (auth, repositories, gc, database, storage): see README.md and docs/auth.md.

At start-up stderr shows the address, the data directory, the admin account when it was just created and
the built-in "default" repository's push rules (allow_tag_overwrite=true there; repositories created through
the API or the config file default every rule to false, as in the quick reference).

Exit codes:
  0  stopped by SIGINT or SIGTERM (in-flight requests were given shutdown_grace_seconds)
  1  internal error (printed with its stack)
  2  usage or configuration error: unknown flag, config file syntax or unknown key, bad environment variable
     or value (port above 65535, admin password shorter than 8 characters…) — one line naming the setting
  3  environment problem: port in use or not permitted, TLS file missing, unreadable or not PEM, data
     directory that cannot be created or written, database unreachable — one line naming the setting
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      data: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'log-level': { type: 'string' },
      'no-auth': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new ConfigError('--tls-cert and --tls-key go together');
  const flags: Record<string, unknown> = {
    listen: values.listen,
    data: values.data,
    log_level: values['log-level'],
    ...(values['tls-cert'] ? { tls: { cert: values['tls-cert'], key: values['tls-key'] } } : {}),
    ...(values['no-auth'] ? { auth: { enabled: false } } : {}),
  };
  const config = loadConfig({ file: values.config, env: process.env, flags });
  const running = await startRegistry(config);
  const host = running.url.replace(/^https?:\/\//, '');
  const lines = [
    `nitro-registry listening on ${running.url}`,
    `  data: ${config.dataDir}`,
    ...running.registry.startupMessages.map((m) => `  ${m}`),
    ...(running.registry.auth.enabled
      ? [`  log in:         docker login ${host} -u admin      (anonymous pull works on public repositories)`]
      : ['  auth is off: anonymous read/write']),
    `  push an image:  docker tag myapp:latest ${host}/my-project/myapp:latest && docker push ${host}/my-project/myapp:latest`,
    `  or with skopeo: skopeo copy --dest-tls-verify=false docker-archive:myapp.tar docker://${host}/my-project/myapp:latest`,
  ];
  process.stderr.write(lines.join('\n') + '\n');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`nitro-registry: ${signal} received, shutting down\n`);
      running.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
