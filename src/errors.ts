/**
 * Every failure the Action can report, declared as data: a stable code (used in the JSON report and in
 * tests) and the hint a user needs to fix it. Messages add the specifics (tag, platform, blob).
 */
export const ERROR_CODES = {
  AUTH_FAILED: 'the registry rejected the credentials (check username/password or token scopes)',
  ACCESS_DENIED: 'the credentials are valid but lack permission for this repository',
  UNREACHABLE: 'the registry could not be reached (check the host name, port and network)',
  PLAIN_HTTP: 'the registry speaks plain HTTP; set `insecure: true` to allow it (loopback registries need no setting)',
  TLS_ERROR: 'the TLS handshake with the registry failed (a private CA? pass it as `ca-cert` / --ca-cert, or set NODE_EXTRA_CA_CERTS)',
  TIMEOUT: 'the registry did not answer in time (raise `timeout` / --timeout if the registry is just slow)',
  REGISTRY_ERROR: 'the registry answered with an unexpected status',
  TAG_MISMATCH: 'the tag does not resolve to the pushed digest',
  TAG_ON_CHILD: 'the tag points at a platform manifest instead of the image index (buildx double-push race)',
  TAG_MISSING: 'the tag does not exist in the registry',
  MANIFEST_MISSING: 'a manifest referenced by the image is missing',
  MANIFEST_DIGEST_MISMATCH: 'the registry served manifest bytes whose digest differs from the one requested',
  MANIFEST_SIZE_MISMATCH: 'a manifest size differs from the size its descriptor declares',
  PLATFORM_MISSING: 'a requested platform is not in the image index',
  BLOB_MISSING: 'a config or layer blob is missing from the repository',
  BLOB_SIZE_MISMATCH: 'a blob size differs from the size its manifest declares',
  BLOB_DIGEST_MISMATCH: 'a downloaded blob does not hash to its digest',
  UNSUPPORTED_MEDIA_TYPE: 'the manifest media type is not an image manifest or index',
  INVALID_INPUT: 'an input value is invalid',
  BUILD_FAILED: 'docker buildx build failed',
  LOGIN_FAILED: 'docker login failed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ActionError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail: string) {
    super(`${detail} — ${ERROR_CODES[code]}`);
    this.name = 'ActionError';
    this.code = code;
  }
}
