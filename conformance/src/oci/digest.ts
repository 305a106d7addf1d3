// Content addressing helpers, plus deterministic pseudo-random content so large blobs can be generated twice
// (once to hash, once to upload) without holding them in memory.
import { createHash, randomBytes } from 'node:crypto';

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export function sha512(data: Buffer | string): string {
  return 'sha512:' + createHash('sha512').update(data).digest('hex');
}

/** Random bytes, unique per call, so blobs never collide across runs. */
export function uniqueBlob(size = 64): Buffer {
  return randomBytes(size);
}

/** A random blob that is also a valid JSON config (registries may inspect configs). */
export function uniqueConfig(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {},
      nonce: randomBytes(8).toString('hex'),
      ...extra,
    }),
  );
}

/** Deterministic stream of `total` bytes from a seed, in `chunk`-sized pieces (AES-CTR-like via repeated hashing). */
export async function* seededStream(seed: string, total: number, chunk = 1 << 20): AsyncGenerator<Buffer> {
  let produced = 0;
  let counter = 0;
  const block = Buffer.alloc(chunk);
  while (produced < total) {
    const n = Math.min(chunk, total - produced);
    // Fill quickly: one 64-byte hash per 64 bytes would be slow; instead derive a 1 KiB pattern per chunk and
    // xor it with the position so no two KiB repeat within a chunk.
    const pattern = createHash('sha512').update(`${seed}:${counter++}`).digest();
    for (let off = 0; off < n; off += 64) {
      pattern.copy(block, off, 0, Math.min(64, n - off));
      if (off + 4 <= n) block.writeUInt32LE((off ^ produced) >>> 0, off);
    }
    produced += n;
    yield Buffer.from(block.subarray(0, n));
  }
}

export async function digestOfStream(src: AsyncIterable<Buffer>): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const b of src) {
    h.update(b);
    size += b.length;
  }
  return { digest: 'sha256:' + h.digest('hex'), size };
}
