// Start the reference server as a child process (never imported: the suite must stay registry-agnostic) with
// token auth on and a known admin password passed through the environment, not argv.
import { stringify } from 'yaml';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/nitro-registry.js');

export function referenceServerBuilt(): boolean {
  return existsSync(BIN) && existsSync(join(ROOT, 'build/reference-server/src/cli.js'));
}

export interface RunningReference {
  url: string;
  dataDir: string;
  admin: { username: string; password: string };
  stop(): Promise<void>;
}

/**
 * `config`: more settings for the config file (e.g. the backend matrix's database and storage); `authConfig`:
 * more settings of its `auth:` section (e.g. trusted OIDC issuers).
 */
export async function startReferenceServer(
  opts: { auth?: boolean; config?: Record<string, unknown>; authConfig?: Record<string, unknown> } = {},
): Promise<RunningReference> {
  const dir = await mkdtemp(join(tmpdir(), 'nitro-ref-'));
  const password = `Adm-${randomBytes(9).toString('base64url')}`;
  const cfg = join(dir, 'registry.yml');
  await writeFile(cfg, stringify({ ...(opts.config ?? {}), auth: { enabled: opts.auth !== false, ...(opts.authConfig ?? {}) } }), { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--config', cfg, '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--log-level', 'silent'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NITRO_REGISTRY_ADMIN_PASSWORD: password } },
  );
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reference server did not start in 20 s: ${stderr}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
      const m = /listening on (https?:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`reference server exited (${code}): ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    dataDir: join(dir, 'data'),
    admin: { username: 'admin', password },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
