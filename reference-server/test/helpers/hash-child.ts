/**
 * Child process for resumable-hash.test.ts: for each job on stdin (JSON lines {state, engine, rest}
 * with `rest` base64), restores the saved hash state, hashes `rest` into it and prints
 * {state: save(), digest: digest()} — proof that a state continues in a process that never saw the
 * first bytes. One process for all jobs: starting the TypeScript loader costs seconds on a loaded box.
 */
import { ResumableHash } from '../../src/storage/resumable-hash.js';

let input = '';
for await (const c of process.stdin) input += c;
for (const line of input.split('\n').filter(Boolean)) {
  const job = JSON.parse(line) as { state: string; engine: 'native' | 'js'; rest: string };
  const h = ResumableHash.restore(job.state, { engine: job.engine });
  await h.updateAsync(Buffer.from(job.rest, 'base64'));
  process.stdout.write(`${JSON.stringify({ state: h.save(), digest: h.digest() })}\n`);
}
