/**
 * A SHA-256 / SHA-512 hash whose running state serializes portably: an upload session's hash is saved
 * with the session (UploadState.hash) and continued on any replica or after a restart, without
 * re-reading the bytes received so far.
 *
 * Two engines, same state format, freely mixed:
 *  - native (reference-server/native, OpenSSL's SHA-NI/AVX2 code inside Node): `updateAsync` hashes on
 *    the libuv thread pool, so an upload's receiving, hashing and file writing overlap;
 *  - JavaScript (sha2-js.ts) when the addon is not built — portable and correct, several times slower
 *    and on the event loop. NITRO_REGISTRY_REQUIRE_NATIVE=1 makes a missing addon a startup error.
 *
 * State string, version 1:  `rh1.<alg>.<bytes>.<base64url(chaining words big-endian ‖ unfinished block)>`
 * where the unfinished block is `bytes mod 64` (sha256) or `bytes mod 128` (sha512) bytes long, so the
 * length is checked on restore. A new layout gets a new prefix; restore() rejects what it does not know
 * with an error saying so (callers then re-hash the file, see fs-blob-store.ts).
 */
import { writev } from 'node:fs';
import { nativeHash, type NativeHashBinding } from './native-hash.js';
import { Sha2Js } from './sha2-js.js';

export type HashAlgorithm = 'sha256' | 'sha512';

const STATE_VERSION = 'rh1';
const WORD_BYTES = { sha256: 32, sha512: 64 } as const;
const BLOCK_BYTES = { sha256: 64, sha512: 128 } as const;
const ALG_ID = { sha256: 0, sha512: 1 } as const;
const STATE_RE = /^rh1\.(sha256|sha512)\.(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]*)$/;

/** One engine's running hash. */
interface Engine {
  update(buf: Uint8Array): void;
  updateMany(chunks: readonly Uint8Array[]): Promise<void>;
  /** Hashes the chunks, then writes them to fd at position; resolves once all are written. */
  hashWrite(chunks: readonly Uint8Array[], fd: number, position: number): Promise<void>;
  state(): Buffer;
  digest(): Buffer;
  copy(): Engine;
}

class NativeEngine implements Engine {
  constructor(
    private readonly b: NativeHashBinding,
    private readonly alg: 0 | 1,
    private readonly ctx: Buffer,
  ) {}
  static create(b: NativeHashBinding, alg: HashAlgorithm): NativeEngine {
    const e = new NativeEngine(b, ALG_ID[alg], Buffer.alloc(b.ctxSize));
    b.init(e.ctx, e.alg);
    return e;
  }
  static restore(b: NativeHashBinding, alg: HashAlgorithm, state: Uint8Array, bytes: number): NativeEngine {
    const e = new NativeEngine(b, ALG_ID[alg], Buffer.alloc(b.ctxSize));
    b.importState(e.ctx, e.alg, state, bytes);
    return e;
  }
  update(buf: Uint8Array): void {
    this.b.update(this.ctx, this.alg, buf);
  }
  updateMany(chunks: readonly Uint8Array[]): Promise<void> {
    return new Promise((resolve, reject) => this.b.updateAsync(this.ctx, this.alg, chunks, (err) => (err ? reject(err) : resolve())));
  }
  hashWrite(chunks: readonly Uint8Array[], fd: number, position: number): Promise<void> {
    return new Promise((resolve, reject) => this.b.hashWriteAsync(this.ctx, this.alg, fd, position, chunks, (err) => (err ? reject(err) : resolve())));
  }
  state(): Buffer {
    return this.b.exportState(this.ctx, this.alg);
  }
  digest(): Buffer {
    return this.b.digest(this.ctx, this.alg);
  }
  copy(): Engine {
    return new NativeEngine(this.b, this.alg, Buffer.from(this.ctx));
  }
}

class JsEngine implements Engine {
  constructor(private readonly h: Sha2Js) {}
  update(buf: Uint8Array): void {
    this.h.update(buf);
  }
  async updateMany(chunks: readonly Uint8Array[]): Promise<void> {
    for (const c of chunks) this.h.update(c);
  }
  async hashWrite(chunks: readonly Uint8Array[], fd: number, position: number): Promise<void> {
    for (const c of chunks) this.h.update(c);
    await writeAll(fd, chunks, position);
  }
  state(): Buffer {
    return this.h.state();
  }
  digest(): Buffer {
    return this.h.digest();
  }
  copy(): Engine {
    return new JsEngine(this.h.copy());
  }
}

/** Which engine new hashes use: 'native' when the addon loaded, else 'js'. */
export const hashEngine: 'native' | 'js' = nativeHash ? 'native' : 'js';

export interface HashEngineChoice {
  /** Force the JavaScript engine (tests of interop between engines). */
  readonly engine?: 'native' | 'js';
}

function makeEngine(alg: HashAlgorithm, choice: HashEngineChoice, state?: { words: Uint8Array; bytes: number }): Engine {
  const useNative = (choice.engine ?? hashEngine) === 'native';
  if (useNative) {
    if (!nativeHash) throw new Error('the resumable-hash addon is not available');
    return state ? NativeEngine.restore(nativeHash, alg, state.words, state.bytes) : NativeEngine.create(nativeHash, alg);
  }
  return new JsEngine(state ? Sha2Js.fromState(alg, state.words, state.bytes) : new Sha2Js(alg));
}

export class ResumableHash {
  /** updateAsync calls not settled yet: until then the engine's state belongs to the thread pool. */
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    readonly algorithm: HashAlgorithm,
    private readonly engine: Engine,
    private n: number,
  ) {}

  static create(alg: HashAlgorithm, choice: HashEngineChoice = {}): ResumableHash {
    return new ResumableHash(alg, makeEngine(alg, choice), 0);
  }

  /** Continues a hash from save()'s string; throws a descriptive Error for anything else. */
  static restore(state: string, choice: HashEngineChoice = {}): ResumableHash {
    const m = STATE_RE.exec(state);
    if (!m) {
      const version = /^([a-z]+[0-9]+)\./.exec(state)?.[1];
      throw new Error(
        version && version !== STATE_VERSION
          ? `resumable hash state: unknown format version ${JSON.stringify(version)} (this server reads ${STATE_VERSION})`
          : 'resumable hash state: malformed (expected rh1.<alg>.<bytes>.<base64url>)',
      );
    }
    const alg = m[1] as HashAlgorithm;
    const bytes = Number(m[2]);
    if (!Number.isSafeInteger(bytes)) throw new Error('resumable hash state: byte count out of range');
    const words = Buffer.from(m[3]!, 'base64url');
    if (words.length !== WORD_BYTES[alg] + (bytes % BLOCK_BYTES[alg]) || words.toString('base64url') !== m[3]) {
      throw new Error(`resumable hash state: corrupt (${words.length} state bytes do not fit ${bytes} bytes hashed with ${alg})`);
    }
    return new ResumableHash(alg, makeEngine(alg, choice, { words, bytes }), bytes);
  }

  /** Bytes hashed so far (an updateAsync counts once it has settled). */
  get bytes(): number {
    return this.n;
  }

  update(buf: Uint8Array): void {
    this.idle('update');
    this.engine.update(buf);
    this.n += buf.length;
  }

  /**
   * Hashes `data` (one buffer, or several in order) off the event loop when the addon is there. The
   * buffers must not change until the promise settles. Calls queue behind each other; update(), save(),
   * digest() and copy() throw while one is in flight (await it first).
   */
  updateAsync(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const chunks = data instanceof Uint8Array ? [data] : data;
    return this.enqueue(chunks, () => this.engine.updateMany(chunks));
  }

  /**
   * Hashes `chunks` and writes them to `fd` at `position`: with the addon both happen in one
   * thread-pool job (see native/resumable_hash.c, hashWriteAsync). Queues behind other updates like
   * updateAsync. On a rejection (a write error) the hash state is undefined: restore a copy taken before.
   */
  updateAndWrite(chunks: readonly Uint8Array[], fd: number, position: number): Promise<void> {
    return this.enqueue(chunks, () => this.engine.hashWrite(chunks, fd, position));
  }

  /** Runs `work` (which hashes `chunks`) after every earlier queued call; counts the bytes once it settles. */
  private enqueue(chunks: readonly Uint8Array[], work: () => Promise<void>): Promise<void> {
    const size = chunks.reduce((s, c) => s + c.length, 0);
    this.pending++;
    // `finally` runs before the returned promise settles, so a caller that awaited it finds the hash idle.
    const p = this.tail
      .then(work)
      .then(() => {
        this.n += size;
      })
      .finally(() => {
        this.pending--;
      });
    this.tail = p.catch(() => undefined);
    return p;
  }

  save(): string {
    this.idle('save');
    return `${STATE_VERSION}.${this.algorithm}.${this.n}.${this.engine.state().toString('base64url')}`;
  }

  digest(): string {
    this.idle('digest');
    return `${this.algorithm}:${this.engine.digest().toString('hex')}`;
  }

  copy(): ResumableHash {
    this.idle('copy');
    return new ResumableHash(this.algorithm, this.engine.copy(), this.n);
  }

  private idle(what: string): void {
    if (this.pending > 0) throw new Error(`ResumableHash.${what}() while an updateAsync is in flight`);
  }
}

/** fs.writev until every byte of `chunks` is at `position` onwards (a regular file may take less per call). */
async function writeAll(fd: number, chunks: readonly Uint8Array[], position: number): Promise<void> {
  let rest = chunks.filter((c) => c.length > 0);
  while (rest.length > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      writev(fd, rest as NodeJS.ArrayBufferView[], position, (err, n) => (err ? reject(err) : resolve(n))),
    );
    if (written === 0) throw Object.assign(new Error('EIO: writev wrote nothing'), { code: 'EIO' });
    position += written;
    let skip = written;
    while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
    if (skip > 0) rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
  }
}
