/**
 * Connection hygiene: what keeps slow or half-finished clients from holding sockets and file handles.
 *
 *   configureServer  node:http timeouts for request headers (and, optionally, whole requests), a logged
 *                    408 when they bite, and half-open sockets kept writable so a client that shuts down its
 *                    sending side after a complete request still gets its response.
 *   watchBody        a minimum-rate timer on one request's body: a client that sends fewer than
 *                    `bodyMinBytesPerSecond` (at least one byte) over a `bodyWindowSeconds` window loses its
 *                    connection. Time the server itself holds the body back (backpressure) does not count.
 *   closeAfterError  after an error answered before the body was read: `Connection: close`, and the socket
 *                    closed once the response is flushed, instead of draining a body we will not use
 *                    (fastify and undici do the same). Draining let a trickling client keep its socket forever.
 *
 * Limits are in config `limits:` (config.ts, docs/operations.md). Each limit that bites logs one warn line
 * with `limit` naming it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Limits } from '../config.js';

/** Options for http.createServer / https.createServer: how often node checks the header and request timers. */
export function serverOptions(limits: Limits): { connectionsCheckingInterval: number } {
  const shortest = Math.min(...[limits.headersTimeoutSeconds, limits.requestTimeoutSeconds].filter((s) => s > 0), 60);
  return { connectionsCheckingInterval: Math.max(100, Math.floor((shortest * 1000) / 4)) };
}

export function configureServer(server: Server, limits: Limits, log: Logger): void {
  const headersMs = limits.headersTimeoutSeconds * 1000;
  const requestMs = limits.requestTimeoutSeconds * 1000;
  // node refuses headersTimeout > requestTimeout when both are set.
  server.headersTimeout = requestMs > 0 && headersMs > 0 ? Math.min(headersMs, requestMs) : headersMs;
  server.requestTimeout = requestMs;
  server.keepAliveTimeout = 65_000;
  // Without this node answers a client's FIN by aborting its unanswered requests and closing: a client that
  // half-closes after a complete request (allowed by HTTP/1.1, used by some proxies and scripts) got nothing.
  // With it the response is written and the connection closed after it.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) {
      log.warn({ limit: limits.requestTimeoutSeconds > 0 ? 'request_timeout' : 'headers_timeout', remoteAddress: socket.remoteAddress }, 'connection limit: request not received in time, closed with 408');
    }
    // node's own default answers, which a 'clientError' listener replaces (not when a response is already
    // under way on this socket: raw bytes would corrupt it).
    const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !busy && (err.code !== 'ECONNRESET' || timedOut)) {
      const status = timedOut
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  });
}

const hasBody = (req: IncomingMessage): boolean => {
  const len = req.headers['content-length'];
  if (len !== undefined) return len.trim() !== '0';
  return req.headers['transfer-encoding'] !== undefined;
};

/** Starts the body timer for `req` (no-op without a body or with the limit off); it stops by itself. */
export function watchBody(req: IncomingMessage, res: ServerResponse, limits: Limits, log: Logger): void {
  if (limits.bodyWindowSeconds <= 0 || req.complete || !hasBody(req)) return;
  const socket = req.socket;
  const windowMs = limits.bodyWindowSeconds * 1000;
  const needed = Math.max(1, limits.bodyMinBytesPerSecond * limits.bodyWindowSeconds);
  let last = socket.bytesRead;
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return stop();
    const read = socket.bytesRead;
    const got = read - last;
    last = read;
    // Bytes waiting in the request's buffer mean the server is not reading (auth, backpressure from the
    // disk): the client is not to blame for that window.
    if (got >= needed || req.readableLength > 0) return;
    log.warn(
      { limit: 'body_min_rate', method: req.method, path: req.url?.split('?')[0], remoteAddress: socket.remoteAddress, bytesInWindow: got, windowSeconds: limits.bodyWindowSeconds, minBytesPerSecond: limits.bodyMinBytesPerSecond },
      'connection limit: request body too slow, connection closed',
    );
    stop();
    socket.destroy();
  }, windowMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    res.off('close', stop);
    req.off('end', stop);
  };
  res.once('close', stop);
  req.once('end', stop);
}

/** How long a closed-after-error connection still reads (and discards) before it is destroyed. */
const LINGER_MS = 2000;

/**
 * Call before writing an error response: when the request body has not been read in full, ask the client
 * to close, and close our side once the response is out, rather than reading on.
 *
 * Closing is "lingering" (as Apache does): FIN after the response, keep discarding what the client still
 * sends for LINGER_MS, then destroy. Destroying at once with unread bytes in the kernel's receive buffer
 * makes Linux send a RST, which can wipe the response before the client has read it.
 */
export function closeAfterError(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  if (!res.headersSent) res.setHeader('Connection', 'close');
  const socket = req.socket as (Socket & { destroySoon?: () => void }) | null;
  if (!socket || socket.destroyed) return; // already gone (the client hung up)
  // node calls destroySoon() once a `Connection: close` response is flushed.
  socket.destroySoon = () => {
    if (socket.destroyed) return;
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
}
