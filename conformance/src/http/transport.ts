// How the suite reaches the registry: Node's fetch, or undici's with extra CA certificates (--ca-cert) or without
// certificate verification (--insecure). NODE_EXTRA_CA_CERTS works too (Node reads it at start-up).
// Also a raw-socket HEAD, to see bytes a registry wrongly sends after a HEAD response's headers.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export interface Transport {
  fetch: typeof fetch;
  tls: { ca?: string[]; rejectUnauthorized: boolean };
}

export async function makeTransport(o: { caCert?: string; insecure?: boolean }): Promise<Transport | undefined> {
  if (!o.caCert && !o.insecure) return undefined;
  let ca: string[] | undefined;
  if (o.caCert) {
    let pem: string;
    try {
      pem = readFileSync(o.caCert, 'utf8');
    } catch (e) {
      throw Object.assign(new Error(`--ca-cert ${o.caCert}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`), { name: 'ConfigError' });
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw Object.assign(new Error(`--ca-cert ${o.caCert}: no PEM certificate in the file`), { name: 'ConfigError' });
    ca = [...tls.rootCertificates, pem];
  }
  const undici = await import('undici');
  const dispatcher = new undici.Agent({ connect: { ca, rejectUnauthorized: !o.insecure } });
  const f = ((input: string | URL, init?: RequestInit) => undici.fetch(input as string, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  return { fetch: f, tls: { ca, rejectUnauthorized: !o.insecure } };
}

/** Status and number of bytes after the headers of a HEAD response, read from a fresh socket. */
export function headBodyLength(url: URL, headers: Record<string, string>, transport: Transport | undefined, signal: AbortSignal): Promise<{ status: number; bodyBytes: number }> {
  return new Promise((resolve, reject) => {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const sock =
      url.protocol === 'https:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: transport?.tls.ca, rejectUnauthorized: transport?.tls.rejectUnauthorized ?? true })
        : net.connect({ host, port });
    const lines = [`HEAD ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', 'User-Agent: nitro-conformance'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    let buf = Buffer.alloc(0);
    let headerEnd = -1;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      if (headerEnd < 0) return reject(new Error(`HEAD ${url.pathname}: connection closed before the response headers`));
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, headerEnd).toString('latin1'))?.[1] ?? 0);
      resolve({ status, bodyBytes: buf.length - headerEnd - 4 });
    };
    const onAbort = () => {
      sock.destroy();
      reject(new Error(`HEAD ${url.pathname}: aborted`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => sock.write(lines.join('\r\n') + '\r\n\r\n'));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (headerEnd < 0) {
        headerEnd = buf.indexOf('\r\n\r\n');
        // Headers complete: give a misbehaving server a moment to send a body, then judge.
        if (headerEnd >= 0) timer = setTimeout(finish, 300);
      }
    });
    sock.on('end', finish);
    sock.on('close', () => signal.removeEventListener('abort', onAbort));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
