/**
 * The PostgreSQL connection layer shared by every store of the backend: a pool, transactions that retry
 * what PostgreSQL asks to be retried, and the advisory locks that stand in for the embedded backend's
 * in-process KeyedMutex (they work across replicas, and die with the session that holds them).
 *
 * Transactions run at READ COMMITTED. The stores never rely on a snapshot for an invariant: they take
 * row locks (or transaction-scoped advisory locks) first, in one statement, and read the facts they decide
 * on in the statements after it, which see everything committed before the lock was granted.
 */
import pg from 'pg';

/** Anything that runs a query: the pool, or one client (inside a transaction or holding a lock). */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Namespaces of the two-key advisory locks (pg_advisory_lock(ns, hashtext(key))). */
export const LOCK = {
  /** Schema migrations: one migrator at a time across every replica starting at once. */
  migrations: 0x6e01,
  /** A blob digest: commitBlob and GC's collectBlob/collectOrphan (held across the storage operation). */
  blob: 0x6e02,
  /** An immutable tag (repository:tag), transaction-scoped: racing first pushes decide one at a time. */
  tag: 0x6e03,
  /** The registry-wide GC run. */
  gc: 0x6e04,
  /** The active signing key (first start of several replicas). */
  keys: 0x6e05,
} as const;

/** SQLSTATEs a transaction is retried on: serialization failure, deadlock detected. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 6;

export const pgCode = (e: unknown): string | undefined => (e as { code?: unknown })?.code as string | undefined;
export const isUniqueViolation = (e: unknown): boolean => pgCode(e) === '23505';
export const constraintOf = (e: unknown): string | undefined => (e as { constraint?: string })?.constraint;

/**
 * Integers come back as numbers: every BIGINT here is a time in ms, a size or a count, all far below
 * 2^53. (pg returns int8 as strings by default, and SUM/COUNT as int8/numeric.)
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (v: string) => (v === null ? null : Number(v));
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPool(url: string, max: number, onError: (e: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types: TYPES, application_name: 'nitro-registry' });
  // An idle client whose connection dies emits here; without a listener that would crash the process.
  pool.on('error', onError);
  return pool;
}

/**
 * The database as the stores use it. `tx` runs `fn` in a transaction (retried from the start on a
 * serialization failure or deadlock, so `fn` must only touch the database); `withLock` holds a
 * session-level advisory lock across `fn`, which may await anything (a storage operation).
 */
export interface Db extends Queryable {
  tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T>;
  withLock<T>(ns: number, key: string, fn: (db: Db) => Promise<T>): Promise<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runTx<T>(client: pg.PoolClient | pg.Client, fn: (c: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await client.query('BEGIN');
    try {
      const r = await fn(client);
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!RETRYABLE.has(pgCode(e) ?? '') || attempt >= MAX_ATTEMPTS) throw e;
      await sleep(Math.random() * 10 * attempt);
    }
  }
}

/** One client checked out of the pool: its transactions run on it; a lock taken on it is held by it. */
class ClientDb implements Db {
  constructor(private readonly client: pg.PoolClient) {}

  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
    return this.client.query<R>(text, values);
  }

  tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    return runTx(this.client, fn);
  }

  withLock<T>(ns: number, key: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return lockOn(this.client, ns, key, () => fn(this));
  }
}

async function lockOn<T>(client: pg.PoolClient, ns: number, key: string, fn: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [ns, key]);
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [ns, key]);
  }
}

export class PoolDb implements Db {
  constructor(readonly pool: pg.Pool) {}

  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
    return this.pool.query<R>(text, values);
  }

  async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    return this.withClient((c) => runTx(c, fn));
  }

  withLock<T>(ns: number, key: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return this.withClient((c) => lockOn(c, ns, key, () => fn(new ClientDb(c))));
  }

  /** Checks a client out for `fn`; a client that failed mid-protocol is destroyed, not reused. */
  async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (e) {
      // A query error (with a SQLSTATE) leaves the connection usable. Anything else may be a lost
      // connection, or just an error of the caller's own work (a storage publish): ask the connection.
      if (pgCode(e) === undefined) {
        try {
          await client.query('SELECT 1');
        } catch {
          broken = e as Error;
        }
      }
      throw e;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * A view inside one open transaction (GC dry runs): nested transactions are savepoints, and locks are
 * not needed (nothing the view writes is ever committed).
 */
export class TxViewDb implements Db {
  private n = 0;
  constructor(private readonly client: pg.PoolClient) {}

  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
    return this.client.query<R>(text, values);
  }

  async tx<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    const sp = `view_${++this.n}`;
    await this.client.query(`SAVEPOINT ${sp}`);
    try {
      const r = await fn(this.client);
      await this.client.query(`RELEASE SAVEPOINT ${sp}`);
      return r;
    } catch (e) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      throw e;
    }
  }

  withLock<T>(_ns: number, _key: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
}
