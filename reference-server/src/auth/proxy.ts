/**
 * Which X-Forwarded-* headers to believe. Any client can send them, so they count only when the TCP peer
 * is a proxy the operator named:
 *
 *   auth.trust_proxy: [10.0.0.0/8, 127.0.0.1]   the peer must be one of these; the client address is the
 *                                               rightmost X-Forwarded-For entry that is not itself a
 *                                               trusted proxy (entries left of it were written by the
 *                                               client and are ignored)
 *   auth.trust_forwarded_headers: true          the peer is always a proxy (one hop): the rightmost entry
 *
 * Login throttling keys on this address, so a spoofed X-Forwarded-For must never choose it.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface ProxyTrust {
  readonly trustForwardedHeaders: boolean;
  readonly trustProxy: readonly string[];
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4, how a dual-stack socket reports IPv4 peers) as plain IPv4. */
const plain = (addr: string): string => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(addr) ? addr.slice(7) : addr);

export function isAddressOrCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const lists = new WeakMap<readonly string[], BlockList>();

function listOf(entries: readonly string[]): BlockList {
  let list = lists.get(entries);
  if (!list) {
    list = new BlockList();
    for (const e of entries) {
      const [addr, bits] = e.split('/');
      const type = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(addr!, type);
      else list.addSubnet(addr!, Number(bits), type);
    }
    lists.set(entries, list);
  }
  return list;
}

function trusted(addr: string, entries: readonly string[]): boolean {
  const a = plain(addr);
  const family = isIP(a);
  return family !== 0 && listOf(entries).check(a, family === 6 ? 'ipv6' : 'ipv4');
}

/** True when the request came through a proxy whose X-Forwarded-* headers are believed. */
export function forwardedTrusted(req: IncomingMessage, t: ProxyTrust): boolean {
  if (t.trustProxy.length > 0) return trusted(req.socket.remoteAddress ?? '', t.trustProxy);
  return t.trustForwardedHeaders;
}

/** The client's address, as the rate limits key on it. */
export function clientAddress(req: IncomingMessage, t: ProxyTrust): string {
  const peer = plain(req.socket.remoteAddress ?? 'unknown');
  if (!forwardedTrusted(req, t)) return peer;
  const raw = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((h) => plain(h.trim()))
    .filter((h) => h !== '');
  if (t.trustProxy.length === 0) return hops.length > 0 && isIP(hops[hops.length - 1]!) ? hops[hops.length - 1]! : peer;
  // Walk from the proxy nearest to us towards the client; the first hop that is not a trusted proxy is the client.
  for (let i = hops.length - 1; i >= 0; i--) {
    const h = hops[i]!;
    if (isIP(h) === 0) return peer; // garbage in the chain: do not let it pick a key
    if (!trusted(h, t.trustProxy)) return h;
  }
  return hops[0] ?? peer;
}
