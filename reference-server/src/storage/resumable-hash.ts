/**
 * PLACEHOLDER until the resumable-hash addon lands: node:crypto hashes whose saved state only restores in
 * the same process. The real module serializes the hash state portably (any replica, any Node version).
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';

export type HashAlgorithm = 'sha256' | 'sha512';

const saved = new Map<string, { alg: HashAlgorithm; hash: Hash; bytes: number }>();

export class ResumableHash {
  private constructor(
    readonly algorithm: HashAlgorithm,
    private hash: Hash,
    private n: number,
  ) {}

  static create(alg: HashAlgorithm): ResumableHash {
    return new ResumableHash(alg, createHash(alg), 0);
  }

  static restore(state: string): ResumableHash {
    const s = saved.get(state);
    if (!s) throw new Error('hash state unknown to this process');
    return new ResumableHash(s.alg, s.hash.copy(), s.bytes);
  }

  get bytes(): number {
    return this.n;
  }

  update(buf: Uint8Array): void {
    this.hash.update(buf);
    this.n += buf.length;
  }

  async updateAsync(buf: Uint8Array): Promise<void> {
    this.update(buf);
  }

  save(): string {
    const id = `mem.${randomUUID()}`;
    saved.set(id, { alg: this.algorithm, hash: this.hash.copy(), bytes: this.n });
    return id;
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}`;
  }

  copy(): ResumableHash {
    return new ResumableHash(this.algorithm, this.hash.copy(), this.n);
  }
}
