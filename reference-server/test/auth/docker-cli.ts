/**
 * A docker CLI for one test: its own DOCKER_CONFIG (credentials never touch the user's), a FROM-scratch
 * build context in a temp dir, and every tag pushed to `tags` removed from the engine at teardown.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface DockerCli {
  (args: string[], input?: string): Promise<{ status: number | null; out: string }>;
  /** Image tags to remove at teardown. */
  readonly tags: string[];
}

export function dockerCli(t: Teardown, prefix: string, content: string): DockerCli {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const config = join(work, 'docker-config');
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  writeFileSync(join(work, 'hello.txt'), content);
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  const tags: string[] = [];
  const docker = (args: string[], input?: string) =>
    new Promise<{ status: number | null; out: string }>((resolve) => {
      const child = spawn('docker', args, { cwd: work, env: { ...process.env, DOCKER_CONFIG: config }, timeout: 120_000 });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (status) => resolve({ status, out }));
      child.stdin.end(input ?? '');
    });
  // Registered after the temp dir's removal, so it runs first (tap runs teardowns in reverse).
  t.teardown(async () => {
    for (const tag of tags) await docker(['rmi', '-f', tag]);
  });
  return Object.assign(docker, { tags });
}
