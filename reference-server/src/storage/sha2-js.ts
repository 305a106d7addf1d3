/**
 * SHA-256 and SHA-512 in plain JavaScript, with the running state exposed: the fallback engine of
 * resumable-hash.ts when the native addon (reference-server/native) is not built. Several times slower
 * than the addon or node:crypto (~150–250 MB/s vs 0.5–2 GB/s), but its exported state is byte-for-byte
 * the addon's (chaining words big-endian + the unfinished block), so sessions move freely between
 * replicas with and without the addon.
 *
 * The round constants and initial values are derived here (fractional parts of the square and cube
 * roots of the first primes, FIPS 180-4 §4.2.2/§4.2.3, §5.3.3/§5.3.5) rather than typed in as 240
 * hex literals; the known-answer tests pin the result.
 */

const primes = (n: number): number[] => {
  const out: number[] = [];
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c);
  return out;
};

/** floor(k-th root of n) for BigInt n (k = 2 or 3), by Newton's method from a float estimate. */
function iroot(n: bigint, k: 2 | 3): bigint {
  let x = BigInt(Math.floor(Number(n) ** (1 / k)));
  const K = BigInt(k);
  for (let i = 0; i < 100; i++) {
    const next = ((K - 1n) * x + n / x ** (K - 1n)) / K;
    if (next === x) break;
    x = next;
  }
  while (x ** K > n) x--;
  while ((x + 1n) ** K <= n) x++;
  return x;
}

/** First `bits` bits of the fractional part of the k-th root of each prime. */
function fractions(count: number, k: 2 | 3, bits: 32 | 64): bigint[] {
  const mask = (1n << BigInt(bits)) - 1n;
  return primes(count).map((p) => iroot(BigInt(p) << BigInt(k * bits), k) & mask);
}

const K256 = Int32Array.from(fractions(64, 3, 32), (x) => Number(BigInt.asIntN(32, x)));
const H256 = Int32Array.from(fractions(8, 2, 32), (x) => Number(BigInt.asIntN(32, x)));
const split = (xs: bigint[]): Int32Array => {
  const out = new Int32Array(xs.length * 2);
  xs.forEach((x, i) => {
    out[2 * i] = Number(BigInt.asIntN(32, x >> 32n));
    out[2 * i + 1] = Number(BigInt.asIntN(32, x));
  });
  return out;
};
const K512 = split(fractions(80, 3, 64));
const H512 = split(fractions(8, 2, 64));

export type Sha2Algorithm = 'sha256' | 'sha512';

/** A running SHA-2 hash: `state()` / `Sha2Js.fromState` carry it across processes. */
export class Sha2Js {
  private readonly block: Uint8Array;
  private readonly h: Int32Array;
  private readonly w: Int32Array;
  private fill = 0;
  private total = 0;

  constructor(readonly algorithm: Sha2Algorithm) {
    const is256 = algorithm === 'sha256';
    this.block = new Uint8Array(is256 ? 64 : 128);
    this.h = Int32Array.from(is256 ? H256 : H512);
    this.w = new Int32Array(is256 ? 64 : 160);
  }

  get bytes(): number {
    return this.total;
  }

  update(data: Uint8Array): void {
    const size = this.block.length;
    let off = 0;
    this.total += data.length;
    if (this.fill > 0) {
      const take = Math.min(size - this.fill, data.length);
      this.block.set(data.subarray(0, take), this.fill);
      this.fill += take;
      off = take;
      if (this.fill < size) return;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    for (; off + size <= data.length; off += size) this.compress(data, off);
    if (off < data.length) {
      this.block.set(data.subarray(off), 0);
      this.fill = data.length - off;
    }
  }

  /** Chaining words big-endian, then the unfinished block (bytes mod block size of them). */
  state(): Buffer {
    const words = Buffer.alloc(this.h.length * 4);
    for (let i = 0; i < this.h.length; i++) words.writeInt32BE(this.h[i]!, i * 4);
    return Buffer.concat([words, this.block.subarray(0, this.fill)]);
  }

  static fromState(algorithm: Sha2Algorithm, state: Uint8Array, bytes: number): Sha2Js {
    const s = new Sha2Js(algorithm);
    const wordBytes = s.h.length * 4;
    const tail = bytes % s.block.length;
    if (state.length !== wordBytes + tail) throw new Error('state length does not match the byte count');
    const view = Buffer.from(state.buffer, state.byteOffset, state.length);
    for (let i = 0; i < s.h.length; i++) s.h[i] = view.readInt32BE(i * 4);
    s.block.set(state.subarray(wordBytes));
    s.fill = tail;
    s.total = bytes;
    return s;
  }

  copy(): Sha2Js {
    return Sha2Js.fromState(this.algorithm, this.state(), this.total);
  }

  /** The digest of what was hashed so far; the running state is left as it was. */
  digest(): Buffer {
    const c = this.copy();
    const size = c.block.length;
    const lenBytes = size / 8; // 8 (sha256) or 16 (sha512) bytes of bit length
    const pad = new Uint8Array((c.fill < size - lenBytes ? size : 2 * size) - c.fill);
    pad[0] = 0x80;
    const bits = this.total * 8;
    const hi = Math.floor(bits / 2 ** 32);
    const lo = bits >>> 0;
    const end = pad.length;
    pad[end - 8] = hi >>> 24;
    pad[end - 7] = hi >>> 16;
    pad[end - 6] = hi >>> 8;
    pad[end - 5] = hi;
    pad[end - 4] = lo >>> 24;
    pad[end - 3] = lo >>> 16;
    pad[end - 2] = lo >>> 8;
    pad[end - 1] = lo;
    c.update(pad);
    const out = Buffer.alloc(c.h.length * 4);
    for (let i = 0; i < c.h.length; i++) out.writeInt32BE(c.h[i]!, i * 4);
    return out;
  }

  private compress(d: Uint8Array, off: number): void {
    if (this.algorithm === 'sha256') this.compress256(d, off);
    else this.compress512(d, off);
  }

  private compress256(d: Uint8Array, off: number): void {
    const w = this.w;
    const h = this.h;
    for (let i = 0; i < 16; i++, off += 4) w[i] = (d[off]! << 24) | (d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h[0]!, b = h[1]!, c = h[2]!, e = h[4]!, f = h[5]!, g = h[6]!, dd = h[3]!, hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (dd + t1) | 0;
      dd = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + dd) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + hh) | 0;
  }

  /** 64-bit words as (hi, lo) Int32 pairs: w[2i] = high half, w[2i+1] = low half. */
  private compress512(d: Uint8Array, off: number): void {
    const w = this.w;
    const H = this.h;
    for (let i = 0; i < 32; i++, off += 4) w[i] = (d[off]! << 24) | (d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!;
    for (let i = 16; i < 80; i++) {
      // σ0(w[i-15]) = rotr1 ^ rotr8 ^ shr7; σ1(w[i-2]) = rotr19 ^ rotr61 ^ shr6
      const xh = w[2 * (i - 15)]!, xl = w[2 * (i - 15) + 1]!;
      const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
      const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25));
      const yh = w[2 * (i - 2)]!, yl = w[2 * (i - 2) + 1]!;
      const s1h = ((yh >>> 19) | (yl << 13)) ^ ((yl >>> 29) | (yh << 3)) ^ (yh >>> 6);
      const s1l = ((yl >>> 19) | (yh << 13)) ^ ((yh >>> 29) | (yl << 3)) ^ ((yl >>> 6) | (yh << 26));
      const lo = (w[2 * (i - 16) + 1]! >>> 0) + (s0l >>> 0) + (w[2 * (i - 7) + 1]! >>> 0) + (s1l >>> 0);
      w[2 * i] = (w[2 * (i - 16)]! + s0h + w[2 * (i - 7)]! + s1h + ((lo / 0x100000000) | 0)) | 0;
      w[2 * i + 1] = lo | 0;
    }
    let ah = H[0]!, al = H[1]!, bh = H[2]!, bl = H[3]!, ch = H[4]!, cl = H[5]!, dh = H[6]!, dl = H[7]!;
    let eh = H[8]!, el = H[9]!, fh = H[10]!, fl = H[11]!, gh = H[12]!, gl = H[13]!, hh = H[14]!, hl = H[15]!;
    for (let i = 0; i < 80; i++) {
      // Σ1(e) = rotr14 ^ rotr18 ^ rotr41
      const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
      const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
      const chh = (eh & fh) ^ (~eh & gh);
      const chl = (el & fl) ^ (~el & gl);
      const t1lo = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K512[2 * i + 1]! >>> 0) + (w[2 * i + 1]! >>> 0);
      const t1h = (hh + S1h + chh + K512[2 * i]! + w[2 * i]! + ((t1lo / 0x100000000) | 0)) | 0;
      const t1l = t1lo | 0;
      // Σ0(a) = rotr28 ^ rotr34 ^ rotr39
      const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
      const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
      const mah = (ah & bh) ^ (ah & ch) ^ (bh & ch);
      const mal = (al & bl) ^ (al & cl) ^ (bl & cl);
      const t2lo = (S0l >>> 0) + (mal >>> 0);
      const t2h = (S0h + mah + ((t2lo / 0x100000000) | 0)) | 0;
      const t2l = t2lo | 0;
      hh = gh;
      hl = gl;
      gh = fh;
      gl = fl;
      fh = eh;
      fl = el;
      const elo = (dl >>> 0) + (t1l >>> 0);
      eh = (dh + t1h + ((elo / 0x100000000) | 0)) | 0;
      el = elo | 0;
      dh = ch;
      dl = cl;
      ch = bh;
      cl = bl;
      bh = ah;
      bl = al;
      const alo = (t1l >>> 0) + (t2l >>> 0);
      ah = (t1h + t2h + ((alo / 0x100000000) | 0)) | 0;
      al = alo | 0;
    }
    const add = (i: number, xh: number, xl: number) => {
      const lo = (H[i + 1]! >>> 0) + (xl >>> 0);
      H[i] = (H[i]! + xh + ((lo / 0x100000000) | 0)) | 0;
      H[i + 1] = lo | 0;
    };
    add(0, ah, al);
    add(2, bh, bl);
    add(4, ch, cl);
    add(6, dh, dl);
    add(8, eh, el);
    add(10, fh, fl);
    add(12, gh, gl);
    add(14, hh, hl);
  }
}
