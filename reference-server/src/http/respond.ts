/** Response helpers shared by the handlers: OCI error bodies, JSON, and request-body draining. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../oci/errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : data);
  return data.length;
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number | string[]> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

export function sendError(res: ServerResponse, err: RegistryError): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  return sendJson(res, err.status, err.toBody(), err.headers);
}

/**
 * Reads a small request body fully (manifests, JSON API bodies), refusing more than `limit` bytes. The
 * limit is checked against Content-Length first so an oversized body is refused before it is read.
 */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Parses a decimal header value into a non-negative integer, or undefined. */
export function headerInt(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `n` and `last` query parameters of tag and catalog listings. */
export function pageParams(url: URL, maxN: number): { n?: number; last?: string } {
  const out: { n?: number; last?: string } = {};
  const n = url.searchParams.get('n');
  if (n !== null) {
    if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n });
    out.n = Math.min(Number(n), maxN);
  }
  const last = url.searchParams.get('last');
  if (last !== null && last !== '') out.last = last;
  return out;
}
