/** sendFileRange: exact bytes for whole files and ranges (pooled and small buffers), clean failures. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import t from 'tap';
import { sendFileRange } from '../src/storage/file-sender.js';

const dir = mkdtempSync(join(tmpdir(), 'nitro-file-sender-'));
t.teardown(() => undefined);
const data = randomBytes(3.5 * 1024 * 1024 + 17);
const path = join(dir, 'blob');
writeFileSync(path, data);

async function collect(start: number, end: number): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(Buffer.from(c))); // copy: the sender reuses its buffers
  await sendFileRange(await open(path, 'r'), start, end, out);
  return Buffer.concat(chunks);
}

t.test('whole file and ranges', async (t) => {
  t.ok((await collect(0, data.length - 1)).equals(data), 'whole file');
  for (const [s, e] of [
    [0, 0],
    [5, 4096],
    [1024 * 1024 - 1, 1024 * 1024],
    [1024 * 1024, 3 * 1024 * 1024 + 5],
    [data.length - 3, data.length - 1],
  ] as const) {
    t.ok((await collect(s, e)).equals(data.subarray(s, e + 1)), `range ${s}-${e}`);
  }
  // Several sends in a row reuse pooled buffers: earlier results must stay intact.
  const a = await collect(0, data.length - 1);
  const b = await collect(1, data.length - 1);
  t.ok(a.equals(data) && b.equals(data.subarray(1)));
});

t.test('a file shorter than the range is an error', async (t) => {
  await t.rejects(sendFileRange(await open(path, 'r'), 0, data.length + 10, new PassThrough().resume()), /blob file ends at/);
});

t.test('a connection that goes away rejects instead of hanging, and the handle is closed', async (t) => {
  let written = 0;
  const out = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      written += chunk.length;
      if (written > 1024 * 1024) {
        out.destroy();
        return;
      }
      setImmediate(cb);
    },
  });
  const fh = await open(path, 'r');
  await t.rejects(sendFileRange(fh, 0, data.length - 1, out));
  await t.rejects(fh.stat(), /closed|EBADF/, 'file handle closed');
});

t.test('an aborted signal stops the send', async (t) => {
  const ac = new AbortController();
  ac.abort(new Error('client gone'));
  await t.rejects(sendFileRange(await open(path, 'r'), 0, data.length - 1, new PassThrough().resume(), ac.signal), /client gone/);
});
