/**
 * The externally visible base URL of the registry, for the Bearer challenge's realm. A configured
 * external URL wins; else the request's Host (and, only when trust_forwarded_headers is set,
 * X-Forwarded-Proto / X-Forwarded-Host from a trusted proxy (proxy.ts), since any client can send those).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { forwardedTrusted, type ProxyTrust } from './proxy.js';

const HOST_RE = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();

export function externalBaseUrl(req: IncomingMessage, opts: { externalUrl: string | null } & ProxyTrust): string {
  if (opts.externalUrl) return opts.externalUrl;
  let proto = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  let host = req.headers.host ?? '';
  if (forwardedTrusted(req, opts)) {
    const fp = first(req.headers['x-forwarded-proto']);
    const fh = first(req.headers['x-forwarded-host']);
    if (fp === 'http' || fp === 'https') proto = fp;
    if (fh) host = fh;
  }
  // A Host header is client input that lands in a response header: accept host[:port] only.
  if (!HOST_RE.test(host)) {
    const addr = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    host = `${addr.includes(':') ? `[${addr}]` : addr}:${req.socket.localPort ?? 80}`;
  }
  return `${proto}://${host}`;
}

export { clientAddress } from './proxy.js';
