import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export interface RunningDistribution {
  host: string;
  /** Filesystem storage root, to damage content behind the registry's back. */
  storage: string;
  stop(): Promise<void>;
}

/** Starts CNCF Distribution 2.8 on 127.0.0.1 with temp filesystem storage; optional htpasswd auth. */
export async function startDistribution(opts: { htpasswd?: string } = {}): Promise<RunningDistribution> {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-action-dist-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const auth = opts.htpasswd
    ? `auth:\n  htpasswd:\n    realm: test\n    path: ${opts.htpasswd}\n`
    : '';
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\n${auth}http:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child: ChildProcess = spawn(DISTRIBUTION_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill();
        throw new Error(`docker-registry did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host,
    storage,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function distributionAvailable(): boolean {
  return existsSync(DISTRIBUTION_BIN);
}

/** Path of a blob's data file in Distribution's filesystem layout. */
export function distributionBlobPath(storage: string, digest: string): string {
  const hex = digest.split(':')[1];
  return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}
