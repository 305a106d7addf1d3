import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { bundleNode } from './node24.js';

/**
 * Runs an action bundle the way the GitHub runner does: on Node 24 (when installed; see node24.ts),
 * INPUT_* for every input (action.yml defaults filled in), GITHUB_OUTPUT / GITHUB_STATE /
 * GITHUB_STEP_SUMMARY files, then — for the post step — STATE_* variables from what main saved.
 */
export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  /** `node --version` of the runtime the bundle ran on. */
  node: string;
}

interface ActionYaml {
  inputs?: Record<string, { default?: string | boolean }>;
  runs: { main: string; post?: string };
}

export function readActionYaml(path: string): ActionYaml {
  return parse(readFileSync(path, 'utf8')) as ActionYaml;
}

/** Parses the `name<<DELIM\nvalue\nDELIM` format of GITHUB_OUTPUT and GITHUB_STATE. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
      out[m[1]] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const eq = lines[i].indexOf('=');
      out[lines[i].slice(0, eq)] = lines[i].slice(eq + 1);
    }
  }
  return out;
}

export interface RunOptions {
  actionYml: string;
  phase: 'main' | 'post';
  inputs: Record<string, string>;
  env?: Record<string, string | undefined>;
  /** For the post step: the state main saved. */
  state?: Record<string, string>;
  timeoutMs?: number;
  /** Node binary to run the bundle with. Default: Node 24 (GitHub's runtime) when installed, else this process's. */
  node?: string;
}

const versions = new Map<string, string>();
function nodeVersion(bin: string): string {
  let v = versions.get(bin);
  if (v === undefined) {
    v = bin === process.execPath ? process.version : spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    versions.set(bin, v);
  }
  return v;
}

/** One temp root per test process for every step's RUNNER_TEMP; tests read reports from it after the step. */
let tempRoot: string | undefined;
function runnerTemp(): string {
  if (!tempRoot) {
    const root = mkdtempSync(join(tmpdir(), 'nitro-runner-'));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    tempRoot = root;
  }
  return mkdtempSync(join(tempRoot, 'step-'));
}

export async function runActionStep(opts: RunOptions): Promise<StepResult> {
  const action = readActionYaml(opts.actionYml);
  const dir = runnerTemp();
  const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STATE: join(dir, 'state'), GITHUB_STEP_SUMMARY: join(dir, 'summary') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('STATE_')) env[k] = v;
  for (const [name, spec] of Object.entries(action.inputs ?? {})) {
    const value = opts.inputs[name] ?? (spec.default === undefined ? '' : String(spec.default));
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const name of Object.keys(opts.inputs)) {
    if (!(name in (action.inputs ?? {}))) throw new Error(`input "${name}" is not declared in ${opts.actionYml}`);
  }
  for (const [k, v] of Object.entries(opts.state ?? {})) env[`STATE_${k}`] = v;
  Object.assign(env, files, { RUNNER_TEMP: dir, GITHUB_ACTIONS: 'true', GITHUB_ACTION: `step_${opts.phase}` });
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const script = join(opts.actionYml, '..', opts.phase === 'main' ? action.runs.main : action.runs.post!);
  const node = opts.node ?? bundleNode();
  const child = spawn(node, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return {
    code,
    stdout,
    stderr,
    outputs: parseCommandFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(readFileSync(files.GITHUB_STATE, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    node: nodeVersion(node),
  };
}
