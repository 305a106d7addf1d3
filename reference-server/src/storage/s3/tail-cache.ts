/**
 * The tails this process wrote lately, so the next append of a session on the same replica merges its
 * tail without reading it back from the bucket. Bounded in bytes (least recently used out first), so
 * abandoned sessions cannot pile tails up in memory. Keys are unique per write (keys.ts), so an entry
 * can never stand for other bytes than the object it names.
 */
export class TailCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  get(key: string): Buffer | undefined {
    const b = this.entries.get(key);
    if (b) {
      this.entries.delete(key);
      this.entries.set(key, b); // most recently used last
    }
    return b;
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.budget / 4) return; // one huge tail must not flush every other one
    this.delete(key);
    // A copy: the caller's buffer is a view into a part buffer that is reused.
    const copy = Buffer.from(value);
    this.entries.set(key, copy);
    this.bytes += copy.length;
    for (const [k, b] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(k);
      this.bytes -= b.length;
    }
  }

  delete(key: string): void {
    const b = this.entries.get(key);
    if (!b) return;
    this.entries.delete(key);
    this.bytes -= b.length;
  }
}
