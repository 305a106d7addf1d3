/** ThrottleStore on PostgreSQL (table throttle): counters every replica adds to atomically. */
import type { ThrottleStore, ThrottleWindow } from '../throttle-store.js';
import type { Db } from './database.js';

export class PostgresThrottleStore implements ThrottleStore {
  constructor(private readonly db: Db) {}

  async hit(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]> {
    if (Math.random() < 0.01) await this.db.query('DELETE FROM throttle WHERE since <= $1', [now - 24 * 3600_000]); // keep the table small
    const out: ThrottleWindow[] = [];
    // One upsert per key: concurrent hits queue on the row and each sees the count the previous left.
    for (const key of keys) {
      const r = await this.db.query<ThrottleWindow>(
        `INSERT INTO throttle (key, count, since) VALUES ($1, 1, $2::bigint)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN throttle.since <= $2::bigint - $3::bigint THEN 1 ELSE throttle.count + 1 END,
           since = CASE WHEN throttle.since <= $2::bigint - $3::bigint THEN $2::bigint ELSE throttle.since END
         RETURNING count, since`,
        [Buffer.from(key), now, windowMs],
      );
      out.push(r.rows[0]!);
    }
    return out;
  }

  async peek(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]> {
    const r = await this.db.query<{ key: Buffer; count: number; since: number }>('SELECT key, count, since FROM throttle WHERE key = ANY($1::bytea[])', [
      keys.map((k) => Buffer.from(k)),
    ]);
    const byKey = new Map(r.rows.map((x) => [x.key.toString(), x]));
    return keys.map((key) => {
      const x = byKey.get(key);
      return x && x.since > now - windowMs ? { count: x.count, since: x.since } : { count: 0, since: now };
    });
  }

  async reset(key: string): Promise<void> {
    await this.db.query('DELETE FROM throttle WHERE key = $1', [Buffer.from(key)]);
  }
}
