import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { ActionError } from '../errors.js';
import { RegistryError } from './registry-error.js';

/**
 * How the verifier reaches registries: one connection pool with the TLS trust we were given, and one
 * overall deadline for every request of a run. undici's own fetch (not the global one) so that the
 * dispatcher and fetch are the same version on Node 20 and Node 24.
 */
export interface TransportOptions {
  /** Extra CA certificates (PEM, one or more) trusted besides the system roots and NODE_EXTRA_CA_CERTS. */
  caCert?: string;
  /** Overall deadline for every request made through this transport, in milliseconds (0: none). */
  deadlineMs?: number;
  /** Extra socket options for undici's connector, e.g. a `lookup` that maps test host names to 127.0.0.1. */
  connect?: Record<string, unknown>;
}

/** Default overall deadline: 10 minutes, far above a healthy verification, far below a stuck job's 6 h. */
export const DEFAULT_DEADLINE_MS = 600_000;

export class Transport {
  readonly dispatcher: Agent;
  /** Aborts when the overall deadline has passed; shared by every request and retry sleep. */
  readonly signal: AbortSignal | undefined;
  readonly deadlineMs: number;

  constructor(options: TransportOptions = {}) {
    const ca = options.caCert ? trustedCertificates(options.caCert) : undefined;
    // With `ca` set, Node trusts only that list: keep the system roots and NODE_EXTRA_CA_CERTS in it.
    this.dispatcher = new Agent({ connect: { ...options.connect, ...(ca ? { ca } : {}) } });
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.signal = this.deadlineMs > 0 ? AbortSignal.timeout(this.deadlineMs) : undefined;
  }

  /** fetch through this transport; a request that outlives the deadline rejects with TIMEOUT. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    this.throwIfExpired(String(url));
    return fetch(url, { ...init, dispatcher: this.dispatcher, signal: this.signal });
  }

  /** True when `err` is (or was caused by) this transport's deadline. */
  isDeadline(err: unknown): boolean {
    if (!this.signal?.aborted) return false;
    const name = (err as { name?: string } | undefined)?.name;
    const causeName = (err as { cause?: { name?: string } } | undefined)?.cause?.name;
    return name === 'TimeoutError' || name === 'AbortError' || causeName === 'TimeoutError' || causeName === 'AbortError' || err === this.signal.reason;
  }

  deadlineError(what: string): RegistryError {
    const limit = this.deadlineMs >= 1000 ? `${Math.round(this.deadlineMs / 1000)} s` : `${this.deadlineMs} ms`;
    return new RegistryError('TIMEOUT', `${what}: the overall deadline of ${limit} passed`);
  }

  throwIfExpired(what: string): void {
    if (this.signal?.aborted) throw this.deadlineError(what);
  }

  /** A pause between retries that ends early (with TIMEOUT) when the deadline passes. */
  sleep(ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.signal;
      if (signal?.aborted) return reject(this.deadlineError(what));
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.deadlineError(what));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** System roots + NODE_EXTRA_CA_CERTS (which Node drops once `ca` is given) + the caller's PEM. */
function trustedCertificates(extraPem: string): string[] {
  const out = [...rootCertificates];
  const envFile = process.env.NODE_EXTRA_CA_CERTS;
  if (envFile) {
    try {
      out.push(readFileSync(envFile, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so do we (by ignoring it here).
    }
  }
  out.push(extraPem);
  return out;
}

/**
 * A `ca-cert` value: PEM text, or the path of a PEM file. Checked here so that a typo fails with the
 * input's name instead of a TLS error later.
 */
export function readCaCert(value: string, inputName: string): string | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const pem = v.includes('-----BEGIN') ? v : readPemFile(v, inputName);
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    throw new ActionError('INVALID_INPUT', `${inputName}: no PEM certificate (-----BEGIN CERTIFICATE-----) in ${v.includes('-----BEGIN') ? 'the value' : v}`);
  }
  return `${pem.trim()}\n`;
}

function readPemFile(path: string, inputName: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ActionError('INVALID_INPUT', `${inputName}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
