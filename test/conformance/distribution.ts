// Start CNCF Distribution (`docker-registry`, Debian's 2.8 build) on 127.0.0.1 with a free port and a temp root.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DISTRIBUTION_BIN = process.env.NITRO_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';

export function distributionAvailable(): boolean {
  return existsSync(DISTRIBUTION_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningDistribution {
  url: string;
  configPath: string;
  /** Offline GC, as the suite's gc.command (the config path is quoted in). */
  gcCommand: string;
  stop(): Promise<void>;
}

export interface DistributionOptions {
  /** Token auth: a realm and the certificate its JWTs are signed under (token-issuer.ts). */
  token?: { realm: string; service: string; issuer: string; certPath: string };
  /** A directory to create the data in (the token test puts the issuer's key there too). */
  dir?: string;
}

export async function startDistribution(o: DistributionOptions = {}): Promise<RunningDistribution> {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'nitro-distribution-')));
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(o.token
        ? ['auth:', '  token:', `    realm: ${o.token.realm}`, `    service: ${o.token.service}`, `    issuer: ${o.token.issuer}`, `    rootcertbundle: ${o.token.certPath}`]
        : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(DISTRIBUTION_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${stderr}`);
    const ok = await fetch(`${url}/v2/`)
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status === 200 || (!!o.token && r.status === 401);
      })
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`docker-registry did not answer on ${url} within 15 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    configPath,
    gcCommand: `${DISTRIBUTION_BIN} garbage-collect --delete-untagged {dryRun} '${configPath}'`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
