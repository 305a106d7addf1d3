/**
 * Frees a request body's chunks the moment they are stored instead of at V8's next collection.
 *
 * Node's HTTP parser copies every body slice into a Buffer of its own (node_http_parser.cc, on_body →
 * Buffer::Copy): a 64 KiB malloc per chunk, freed only when V8 collects the Buffer. Between two
 * collections a 1 GiB upload at full speed leaves tens of MiB of those in glibc's heap, and four in
 * parallel pushed the server's RSS to ~150 MiB (bench/README.md, "third pass"). Once a chunk has been
 * hashed and written, the addon's detachBuffers hands its memory back to malloc straight away.
 *
 * Only when that is safe: the body is an http.IncomingMessage (its chunks are fresh copies) and the
 * pump's 'data' listener is its only consumer — none before it, and none added later (a 'newListener'
 * watch: a tee or an APM hook that starts listening mid-body turns releasing off for the rest of the
 * body). Any other Readable — a file stream in a migration, a test's Readable.from(buffer) whose chunks
 * the test still owns — gets a releaser that does nothing; so does a server without the addon. The
 * addon itself detaches only views that span their whole ArrayBuffer, so a pooled slice can never take
 * its neighbours with it.
 *
 * "Fresh copies" is Node's behaviour today (20 and 24), not its promise: node_http_parser.cc also has an
 * internal, opt-in kOnStreamAlloc hook that lets a body chunk be a recycled user buffer. Nothing here
 * sets it; body-chunks.test.ts checks that consecutive chunks have ArrayBuffers of their own, so a Node
 * that changes this fails the tests instead of corrupting uploads.
 */
import { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { nativeHash } from './native-hash.js';

/** Called with chunks nobody will read again; frees them when the body's chunks are ours to free. */
export type ChunkReleaser = (chunks: readonly Buffer[]) => void;

const keep: ChunkReleaser = () => undefined;

/** Decided per body, before `ownListener` (the pump's) is attached as its 'data' listener. */
export function chunkReleaser(body: Readable, ownListener: (chunk: Buffer) => void): ChunkReleaser {
  const addon = nativeHash;
  if (!addon || !(body instanceof IncomingMessage) || body.listenerCount('data') > 0 || body.listenerCount('readable') > 0) return keep;
  let shared = false;
  const watch = (event: string | symbol, listener: unknown) => {
    if ((event === 'data' || event === 'readable') && listener !== ownListener) {
      shared = true;
      body.off('newListener', watch);
    }
  };
  body.on('newListener', watch);
  body.once('close', () => body.off('newListener', watch));
  return (chunks) => {
    if (!shared && chunks.length > 0) addon.detachBuffers(chunks);
  };
}
