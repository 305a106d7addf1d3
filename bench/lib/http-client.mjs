// A lean HTTP/1.1 keep-alive client for the load generator. Uses undici's Pool when it
// can be imported (far less CPU per request than node:http — the load generator shares
// the machine's 2 cores with the servers under test), else node:http with a keep-alive
// Agent. Both expose the same shape: request() → { statusCode, headers, body }.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export const MAX_CONNECTIONS = 64;

/** Reads a response body to the end and returns its byte count (no buffering). */
export async function drain(body) {
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  return n;
}

/** Throws a readable error if `res.statusCode` is not one of `expected`, after reading the body. */
export async function expectStatus(res, expected, what) {
  if (expected.includes(res.statusCode)) return;
  let text = '';
  try {
    for await (const chunk of res.body) {
      if (text.length < 600) text += chunk.toString('utf8');
    }
  } catch {
    // body error: the status is the news
  }
  throw new Error(`${what}: HTTP ${res.statusCode} (expected ${expected.join('/')}) ${text.slice(0, 600)}`);
}

let undiciModule;
async function loadUndici() {
  if (undiciModule === undefined) {
    try {
      undiciModule = await import('undici');
    } catch {
      undiciModule = null;
    }
  }
  return undiciModule;
}

/**
 * Creates a client for `origin` (http://127.0.0.1:PORT). With `followRedirects`, a GET answered 307/302
 * (blob pulls redirected to presigned object-store URLs) is followed once, on a pool per redirect
 * origin, and the caller sees the final response — as docker and containerd do.
 */
export async function createClient(origin, opts = {}) {
  const base = await createOriginClient(origin, opts);
  if (!opts.followRedirects) return base;
  const others = new Map();
  return {
    ...base,
    kind: `${base.kind}, following redirects`,
    async request(req) {
      const res = await base.request(req);
      if (req.method !== 'GET' || (res.statusCode !== 307 && res.statusCode !== 302)) return res;
      const location = new URL(res.headers.location, origin);
      await base.discard(res.body);
      let other = others.get(location.origin);
      if (!other) others.set(location.origin, (other = await createOriginClient(location.origin, opts)));
      const { range } = req.headers ?? {};
      return other.request({ path: location.pathname + location.search, method: 'GET', headers: range ? { range } : {} });
    },
    async close() {
      for (const c of others.values()) await c.close();
      await base.close();
    },
  };
}

async function createOriginClient(origin, { forceNodeHttp = false, tls } = {}) {
  const undici = forceNodeHttp ? null : await loadUndici();
  if (undici) {
    const pool = new undici.Pool(origin, {
      connections: MAX_CONNECTIONS,
      pipelining: 1,
      // Big blob transfers can stall behind a server fsync; don't abort them.
      bodyTimeout: 0,
      headersTimeout: 120_000,
      ...(tls ? { connect: tls } : {}),
    });
    // undici closes the connection after every HEAD (a guard against servers that send
    // a body anyway) unless the response says `Connection: keep-alive`, which Go's
    // net/http never does: HEAD through undici would measure TCP setup on Distribution
    // only. node:http keeps HEAD connections alive, so HEADs go through it for everyone.
    const forHead = nodeHttpClient(origin, tls);
    return {
      kind: 'undici Pool (HEAD: node:http Agent)',
      request: (opts) => (opts.method === 'HEAD' ? forHead.request(opts) : pool.request(opts)),
      /** Reads a small body to the end cheaply. */
      discard: (body) => (typeof body.dump === 'function' ? body.dump({ limit: 1 << 20 }) : drain(body)),
      close: async () => {
        await forHead.close();
        await pool.close();
      },
    };
  }
  return nodeHttpClient(origin, tls);
}

/** `tls`: { ca, rejectUnauthorized } for https origins (e.g. --ca-cert). */
function nodeHttpClient(origin, tls) {
  const { hostname, port, protocol } = new URL(origin);
  const mod = protocol === 'https:' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS, ...(protocol === 'https:' ? tls ?? {} : {}) });
  return {
    kind: 'node:http Agent',
    request({ path, method, headers, body }) {
      return new Promise((resolve, reject) => {
        const req = mod.request({ hostname: hostname.replace(/^\[|\]$/g, ''), port, path, method, headers, agent }, (res) =>
          resolve({ statusCode: res.statusCode, headers: res.headers, body: res }),
        );
        req.on('error', reject);
        if (body == null || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
        else Readable.from(body, { objectMode: false }).on('error', reject).pipe(req);
      });
    },
    discard: (body) => drain(body),
    close: async () => agent.destroy(),
  };
}
