/**
 * A route: method + path pattern + the access it needs + the handler. The server matches a request to
 * a route, asks the Authorizer for `access(params)`, then runs `handle`. One handler file per resource
 * (http/handlers/*.ts) exports its routes; modules such as auth/ and gc/ export theirs the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessRequirement, Principal } from '../registry/access.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Named captures of the route's pattern (e.g. name, digest, reference, uuid, id). */
  readonly params: Readonly<Record<string, string>>;
  readonly principal: Principal;
  /** Aborted when the client goes away or the server shuts down; streams honour it. */
  readonly signal: AbortSignal;
  /** Fields added to the request's log line (repository, user, bytes in/out). */
  readonly log: RequestLogFields;
}

export interface RequestLogFields {
  repository?: string;
  user?: string | null;
  bytesIn?: number;
  bytesOut?: number;
  error?: string;
  [key: string]: unknown;
}

export interface Route {
  readonly method: Method;
  /** Anchored regular expression over the URL path (already percent-decoded? no: raw path). */
  readonly pattern: RegExp;
  /** A short stable name for metrics and logs, e.g. "blob_get". */
  readonly name: string;
  /** The access the request needs; params are the pattern's named groups. */
  access(params: Readonly<Record<string, string>>, url: URL): AccessRequirement;
  handle(ctx: RequestContext): Promise<void>;
}
