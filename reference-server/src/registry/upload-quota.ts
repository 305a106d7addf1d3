/**
 * A cap on open chunked upload sessions per account and per client address. Each session is a file and a
 * metadata row kept for `uploads.ttl_seconds` (24 h by default), so without a cap one client could open
 * sessions until the disk or the database gives out.
 *
 * Counted in this process: a session is added when this replica opens it and released when it is
 * committed, cancelled, discarded or purged here. A session finished on another replica is noticed lazily:
 * when an owner reaches its cap, its sessions are re-checked against the metadata store first, so the cap
 * never refuses on stale counts. After a restart sessions opened before it are not counted (they still
 * expire with the TTL). Anonymous clients (auth off) are counted per address only.
 */
import type { Logger } from '../log.js';
import { RegistryError } from '../oci/errors.js';

export interface SessionOwner {
  /** The account (principal subject), or null when anonymous. */
  readonly account: string | null;
  /** The client's address as seen by this server. */
  readonly address: string;
}

export interface UploadQuotaOptions {
  /** 0 = no cap. */
  readonly perAccount: number;
  readonly perAddress: number;
  /** Whether a session still exists (metadata store). */
  readonly exists: (id: string) => Promise<boolean>;
  readonly log?: Logger;
}

/** Retry-After of the 429: sessions free up as clients finish their pushes. */
const RETRY_AFTER_SECONDS = 30;

export class UploadQuota {
  private readonly owners = new Map<string, SessionOwner>();
  private readonly byAccount = new Map<string, Set<string>>();
  private readonly byAddress = new Map<string, Set<string>>();

  constructor(private readonly opts: UploadQuotaOptions) {}

  /** Open sessions counted for an owner (for tests and metrics). */
  count(owner: SessionOwner): { account: number; address: number } {
    return { account: owner.account === null ? 0 : (this.byAccount.get(owner.account)?.size ?? 0), address: this.byAddress.get(owner.address)?.size ?? 0 };
  }

  /** Throws 429 TOOMANYREQUESTS (with Retry-After) when `owner` may not open another session. */
  async admit(owner: SessionOwner): Promise<void> {
    const over = () => {
      const n = this.count(owner);
      if (owner.account !== null && this.opts.perAccount > 0 && n.account >= this.opts.perAccount) return { limit: 'upload_sessions_per_account', cap: this.opts.perAccount };
      if (this.opts.perAddress > 0 && n.address >= this.opts.perAddress) return { limit: 'upload_sessions_per_address', cap: this.opts.perAddress };
      return null;
    };
    if (!over()) return;
    // At the cap: drop sessions that were finished elsewhere before refusing.
    const mine = new Set([...(owner.account !== null ? (this.byAccount.get(owner.account) ?? []) : []), ...(this.byAddress.get(owner.address) ?? [])]);
    for (const id of mine) if (!(await this.opts.exists(id))) this.release(id);
    const refused = over();
    if (!refused) return;
    this.opts.log?.warn({ limit: refused.limit, cap: refused.cap, account: owner.account, remoteAddress: owner.address }, 'upload session limit reached: new session refused with 429');
    throw new RegistryError(
      'TOOMANYREQUESTS',
      `too many open upload sessions (${refused.limit}: ${refused.cap}); finish or cancel some (DELETE on the session) and retry`,
      { limit: refused.limit, cap: refused.cap },
      { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    );
  }

  add(id: string, owner: SessionOwner): void {
    this.owners.set(id, owner);
    if (owner.account !== null) setOf(this.byAccount, owner.account).add(id);
    setOf(this.byAddress, owner.address).add(id);
  }

  release(id: string): void {
    const owner = this.owners.get(id);
    if (!owner) return;
    this.owners.delete(id);
    if (owner.account !== null) dropFrom(this.byAccount, owner.account, id);
    dropFrom(this.byAddress, owner.address, id);
  }
}

function setOf(m: Map<string, Set<string>>, key: string): Set<string> {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  return s;
}

function dropFrom(m: Map<string, Set<string>>, key: string, id: string): void {
  const s = m.get(key);
  if (!s) return;
  s.delete(id);
  if (s.size === 0) m.delete(key);
}
