/**
 * OCI / Docker Registry v2 error codes, declared as data: code → HTTP status and the spec's message.
 * Domain code throws RegistryError with a code; the HTTP boundary (http/respond.ts) turns it into
 * `{"errors":[{"code","message","detail"}]}` with the right status. A client mistake is never a 500.
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Not in the spec's table but used by Distribution and expected by clients:
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  MANIFEST_TOO_LARGE: { status: 413, message: 'manifest too large' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  TAG_IMMUTABLE: { status: 409, message: 'tag is immutable: overwriting it is refused by the push rule allow_tag_overwrite=false' },
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  // Operational refusals (sent as UNKNOWN on the wire, see toBody; the status and message say what happened):
  STORAGE_FULL: { status: 507, message: 'insufficient storage: the registry is out of disk space; nothing of this request was kept, retry later' },
  UNAVAILABLE: { status: 503, message: 'the registry is shutting down; retry shortly' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers (e.g. WWW-Authenticate on 401, Range on 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, detail?: unknown, headers: Record<string, string> = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = detail;
    this.headers = headers;
  }

  /** The error body the spec prescribes. */
  toBody(): { errors: { code: string; message: string; detail?: unknown }[] } {
    // Codes outside the spec's list are reported under the nearest spec code, so strict clients parse them.
    const wire: Record<string, string> = {
      MANIFEST_TOO_LARGE: 'SIZE_INVALID',
      RANGE_INVALID: 'BLOB_UPLOAD_INVALID',
      TAG_IMMUTABLE: 'DENIED',
      // The spec has no code for these; UNKNOWN is the one every client accepts, with status 507/503.
      STORAGE_FULL: 'UNKNOWN',
      UNAVAILABLE: 'UNKNOWN',
    };
    const code = wire[this.code] ?? this.code;
    return { errors: [{ code, message: this.message, ...(this.detail === undefined ? {} : { detail: this.detail }) }] };
  }
}

export const isRegistryError = (e: unknown): e is RegistryError => e instanceof RegistryError;

/** The 409 every refusal of the allow_tag_overwrite=false push rule answers with; `what` names the refused act. */
export function immutableRefusal(what: string, detail: Record<string, unknown>): RegistryError {
  return new RegistryError('TAG_IMMUTABLE', `${what} is refused by the push rule allow_tag_overwrite=false`, { rule: 'allow_tag_overwrite', ...detail });
}

/** Turns a store's DeleteOutcome into the response: nothing on success, else `unknown()` or the 409. */
export function throwIfRefused(
  outcome: { ok: true } | { ok: false; reason: 'unknown' } | { ok: false; reason: 'immutable'; what: string; detail: Record<string, unknown> },
  unknown: () => RegistryError,
): void {
  if (outcome.ok) return;
  if (outcome.reason === 'unknown') throw unknown();
  throw immutableRefusal(outcome.what, outcome.detail);
}

/** errno / driver codes that mean "no space left": the filesystem, a quota, SQLite, PostgreSQL (53100 disk_full). */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** True when `e` (or an error it wraps as `cause`) is a disk-full or quota error. */
export function isStorageFull(e: unknown): boolean {
  for (let cur = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) return true;
  }
  return false;
}
