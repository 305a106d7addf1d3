/**
 * A test OIDC issuer on 127.0.0.1: the discovery document, a JWKS, and RS256 tokens with the claim shape
 * of GitHub Actions' id-token (repository, ref, workflow, run_id, actor, …). Keys rotate on demand.
 *
 * Also a stand-in for the runner's token service (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN): `GET
 * /_apis/idtoken?api-version=2.0&audience=x` with `Authorization: Bearer <request token>` answers
 * {"value": <token for audience x>}, which is what @actions/core getIDToken reads.
 *
 * Forgeries for the refusal tests are made here too: tokens signed by an unpublished key (with a kid
 * the JWKS lacks, or with the published kid), alg none and HS256 (keyed with the public key's bytes, the
 * classic algorithm-confusion attack).
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, type JWK } from 'jose';

export interface IssuerKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

export interface TokenOptions {
  /** Claims to override or add (undefined removes a default claim). */
  readonly claims?: Record<string, unknown>;
  readonly audience?: string;
  /** Seconds relative to now. */
  readonly expiresIn?: number;
  readonly notBefore?: number;
  readonly issuedAt?: number;
  /** Sign with this key (e.g. unpublished()) instead of the current one. */
  readonly key?: IssuerKey;
  /** Put this kid in the header instead of the key's own (undefined keeps it; null drops it). */
  readonly kid?: string | null;
}

export interface TestOidcIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  /** For ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  readonly actionsTokenUrl: string;
  readonly actionsRequestToken: string;
  /** How many times the JWKS was fetched (the registry's cache and refresh are visible here). */
  readonly jwksFetches: () => number;
  /** Audiences the runner stand-in was asked for, and the tokens it handed out, in order. */
  readonly actionsAudiences: string[];
  readonly actionsTokens: string[];
  /** Claims the runner stand-in puts in its tokens (defaults to githubClaims()). */
  actionsClaims: Record<string, unknown>;
  token(opts?: TokenOptions): Promise<string>;
  /** A new signing key; `keepOld` keeps the previous one published (a graceful rotation). */
  rotate(opts?: { keepOld?: boolean }): Promise<IssuerKey>;
  current(): IssuerKey;
  /** A key the JWKS never lists. */
  unpublished(kid?: string): IssuerKey;
  /** Unsigned: {"alg":"none"} with an empty signature. */
  algNone(opts?: TokenOptions): string;
  /** HS256 with the current public key's JWK JSON as the secret. */
  hs256(opts?: TokenOptions): string;
  close(): Promise<void>;
}

/** The claims GitHub Actions puts in a job's id-token (values for acme/app on main). */
export function githubClaims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const repository = (over.repository as string | undefined) ?? 'acme/app';
  const ref = (over.ref as string | undefined) ?? 'refs/heads/main';
  return {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: repository.split('/')[0],
    repository_id: '123456789',
    repository_owner_id: '987654',
    repository_visibility: 'private',
    ref,
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    sha: 'a'.repeat(40),
    workflow: 'release',
    workflow_ref: `${repository}/.github/workflows/release.yml@${ref}`,
    job_workflow_ref: `${repository}/.github/workflows/release.yml@${ref}`,
    event_name: 'push',
    run_id: '4242424242',
    run_number: '17',
    run_attempt: '1',
    actor: 'octocat',
    actor_id: '583231',
    runner_environment: 'github-hosted',
    ...over,
  };
}

async function newKey(kid = `k-${randomBytes(6).toString('hex')}`): Promise<IssuerKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwk };
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** `tls`: serve https with this certificate (e.g. one signed by a private CA) instead of plain http. */
export async function startOidcIssuer(opts: { path?: string; tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<TestOidcIssuer> {
  let published: IssuerKey[] = [await newKey()];
  let jwksFetches = 0;
  const actionsRequestToken = randomBytes(16).toString('hex');
  // Never published: what an attacker who knows the issuer's name but not its key signs with.
  const rogue = await newKey();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === `${base}/.well-known/openid-configuration`) {
      return json(200, {
        issuer,
        jwks_uri: jwksUri,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'run_id', 'actor', 'workflow'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    }
    if (url.pathname === `${base}/.well-known/jwks`) {
      jwksFetches++;
      return json(200, { keys: published.map((k) => k.jwk) });
    }
    if (url.pathname === '/_apis/idtoken') {
      if (req.headers.authorization !== `Bearer ${actionsRequestToken}`) return json(401, { message: 'bad request token' });
      const audience = url.searchParams.get('audience') ?? 'https://github.com/acme';
      self.actionsAudiences.push(audience);
      self
        .token({ audience, claims: self.actionsClaims })
        .then((value) => {
          self.actionsTokens.push(value);
          json(200, { count: 1, value });
        })
        .catch((e: Error) => json(500, { message: e.message }));
      return;
    }
    json(404, { message: 'not found' });
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = opts.path ?? '';
  const issuer = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}${base}`;
  const jwksUri = `${issuer}/.well-known/jwks`;

  const claimsFor = (o: TokenOptions, aud: string): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    const c: Record<string, unknown> = {
      jti: randomUUID(),
      iss: issuer,
      aud,
      ...githubClaims(),
      iat: now + (o.issuedAt ?? 0),
      nbf: now + (o.notBefore ?? -5),
      exp: now + (o.expiresIn ?? 300),
      ...o.claims,
    };
    for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
    return c;
  };

  const self: TestOidcIssuer = {
    issuer,
    jwksUri,
    actionsTokenUrl: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/_apis/idtoken?api-version=2.0`,
    actionsRequestToken,
    jwksFetches: () => jwksFetches,
    actionsAudiences: [],
    actionsTokens: [],
    actionsClaims: githubClaims(),
    async token(o = {}) {
      const key = o.key ?? published[published.length - 1]!;
      const header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT', x5t: 'test' };
      const kid = o.kid === undefined ? key.kid : o.kid;
      if (kid !== null) header.kid = kid;
      return new SignJWT(claimsFor(o, o.audience ?? 'nitro-registry')).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
    },
    async rotate(o = {}) {
      const next = await newKey();
      published = o.keepOld ? [...published, next] : [next];
      return next;
    },
    current: () => published[published.length - 1]!,
    unpublished: (kid) => ({ ...rogue, kid: kid ?? `unpublished-${randomBytes(4).toString('hex')}` }),
    algNone(o = {}) {
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claimsFor(o, o.audience ?? 'nitro-registry'))}.`;
    },
    hs256(o = {}) {
      const key = published[published.length - 1]!;
      const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url(claimsFor(o, o.audience ?? 'nitro-registry'))}`;
      const sig = createHmac('sha256', JSON.stringify(key.jwk)).update(signingInput).digest('base64url');
      return `${signingInput}.${sig}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return self;
}
