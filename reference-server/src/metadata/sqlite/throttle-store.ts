/** ThrottleStore on the embedded SQLite database (table throttle). */
import type { ThrottleStore, ThrottleWindow } from '../throttle-store.js';
import type { DB } from './database.js';

export class SqliteThrottleStore implements ThrottleStore {
  private readonly q;

  constructor(private readonly db: DB) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      hit: p(
        `INSERT INTO throttle (key, count, since) VALUES (@key, 1, @now)
         ON CONFLICT(key) DO UPDATE SET
           count = CASE WHEN since <= @now - @window THEN 1 ELSE count + 1 END,
           since = CASE WHEN since <= @now - @window THEN @now ELSE since END
         RETURNING count, since`,
      ),
      get: p('SELECT count, since FROM throttle WHERE key = ?'),
      reset: p('DELETE FROM throttle WHERE key = ?'),
      prune: p('DELETE FROM throttle WHERE since <= ?'),
    };
  }

  async hit(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]> {
    return this.db.transaction(() => {
      if (Math.random() < 0.01) this.q.prune.run(now - 24 * 3600_000); // keep the table small
      return keys.map((key) => this.q.hit.get({ key, now, window: windowMs }) as ThrottleWindow);
    })();
  }

  async peek(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]> {
    return keys.map((key) => {
      const r = this.q.get.get(key) as ThrottleWindow | undefined;
      return r && r.since > now - windowMs ? r : { count: 0, since: now };
    });
  }

  async reset(key: string): Promise<void> {
    this.q.reset.run(key);
  }
}
