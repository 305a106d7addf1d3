import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const REFERENCE_CLI = join(root, 'build/reference-server/src/cli.js');

export interface RunningReference {
  host: string;
  /** `http://host` or `https://host` (with --tls-cert). */
  url: string;
  data: string;
  stop(): Promise<void>;
}

export function referenceServerUnavailableReason(): string | undefined {
  return existsSync(REFERENCE_CLI) ? undefined : `the reference server is not built (${REFERENCE_CLI} missing; run npm run build)`;
}

/** Starts `nitro-registry serve` on 127.0.0.1:0 and reads the address it prints on stderr. */
export async function startReferenceServer(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<RunningReference> {
  const data = mkdtempSync(join(tmpdir(), 'nitro-action-ref-'));
  const child = spawn(process.execPath, [join(root, 'bin/nitro-registry.js'), 'serve', '--listen', '127.0.0.1:0', '--data', data, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  const [url, host] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reference server did not start in 15 s: ${stderr}`)), 15_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /nitro-registry listening on (https?:\/\/([^\s/]+))/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve([m[1], m[2]]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`reference server exited with ${code}: ${stderr}`));
    });
  });
  return {
    host,
    url,
    data,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}
