/**
 * The `auth.oidc:` section: OIDC issuers whose tokens the registry trusts (keyless CI), validated here.
 *
 *   auth:
 *     oidc:
 *       - issuer: https://token.actions.githubusercontent.com
 *         audience: nitro-registry          # or a list; the token's aud must contain one of them
 *         jwks_uri: https://…/jwks          # optional: else taken from <issuer>/.well-known/openid-configuration
 *         clock_skew_seconds: 30            # tolerated for nbf/iat only; exp is never stretched
 *         jwks_cooldown_seconds: 30         # least time between JWKS refetches on an unknown kid
 *         allow_insecure_loopback: false    # http:// issuer/JWKS, only on 127.0.0.0/8, ::1, localhost (tests)
 *         ca_file: /etc/nitro/issuer-ca.pem # trust this CA (PEM) for the issuer's https, besides the system's
 *         rules:
 *           - match: {repository: acme/app, ref: refs/heads/main}   # every listed claim, exact or glob
 *             grant: [{name: acme/app, actions: [pull, push]}]      # image name glob, actions
 *
 * Every rule must match at least one claim: a rule matching any token of the issuer would hand the
 * registry to every repository on GitHub that asks for our audience.
 */
import { isValidName } from '../../oci/names.js';
import type { RepositoryAction } from '../../registry/access.js';
import { ACTIONS } from '../scopes.js';
import { AuthConfigError } from '../config.js';
import { compileGlob, type Glob } from './glob.js';

export interface OidcGrant {
  /** The glob as written (for messages). */
  readonly name: string;
  readonly matches: Glob;
  readonly actions: readonly RepositoryAction[];
}

export interface OidcRule {
  /** claim name → glob of its value; all must match. */
  readonly match: ReadonlyArray<{ readonly claim: string; readonly pattern: string; readonly matches: Glob }>;
  readonly grant: readonly OidcGrant[];
}

export interface OidcIssuerConfig {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | null;
  readonly clockSkewSeconds: number;
  readonly jwksCooldownSeconds: number;
  readonly allowInsecureLoopback: boolean;
  /** PEM file of a private CA for the issuer's https endpoints (read when auth starts). */
  readonly caFile: string | null;
  readonly rules: readonly OidcRule[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const ISSUER_KEYS = ['issuer', 'audience', 'jwks_uri', 'clock_skew_seconds', 'jwks_cooldown_seconds', 'allow_insecure_loopback', 'ca_file', 'rules'];

const LOOPBACK = (host: string) => host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** https, or http on loopback when explicitly allowed (a test issuer); never anything else. */
export function checkOidcUrl(value: string, where: string, allowInsecureLoopback: boolean): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new AuthConfigError(`${where} must be an absolute https URL (got "${value.slice(0, 200)}")`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK(u.hostname)) {
    if (allowInsecureLoopback) return u;
    throw new AuthConfigError(`${where} is plain http: set allow_insecure_loopback: true on this issuer to trust a loopback test issuer`);
  }
  throw new AuthConfigError(`${where} must be an https URL (plain http only on loopback with allow_insecure_loopback: true)`);
}

function int(v: unknown, where: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new AuthConfigError(`${where} must be an integer from ${min} to ${max}`);
  return v;
}

function parseGrant(raw: unknown, where: string): OidcGrant {
  if (!isObj(raw)) throw new AuthConfigError(`${where} must be a mapping {name, actions}`);
  for (const k of Object.keys(raw)) if (k !== 'name' && k !== 'actions') throw new AuthConfigError(`${where}.${k}: unknown setting (known: name, actions)`);
  const name = raw.name;
  // The glob stands for image names: with its wildcards filled in it must be one.
  if (typeof name !== 'string' || name === '' || !isValidName(name.replace(/\*+/g, 'x'))) {
    throw new AuthConfigError(`${where}.name must be an image name or a glob of one ("acme/app", "acme/*", "acme/**")`);
  }
  const actions = raw.actions;
  if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => (ACTIONS as readonly unknown[]).includes(a))) {
    throw new AuthConfigError(`${where}.actions must be a non-empty list of ${ACTIONS.join(', ')}`);
  }
  return { name, matches: compileGlob(name), actions: ACTIONS.filter((a) => actions.includes(a)) };
}

function parseRule(raw: unknown, where: string): OidcRule {
  if (!isObj(raw)) throw new AuthConfigError(`${where} must be a mapping {match, grant}`);
  for (const k of Object.keys(raw)) if (k !== 'match' && k !== 'grant') throw new AuthConfigError(`${where}.${k}: unknown setting (known: match, grant)`);
  if (!isObj(raw.match) || Object.keys(raw.match).length === 0) {
    throw new AuthConfigError(`${where}.match must map at least one claim to a value or glob, e.g. {repository: acme/app, ref: refs/heads/main}`);
  }
  const match = Object.entries(raw.match).map(([claim, pattern]) => {
    if (typeof pattern !== 'string' || pattern === '') throw new AuthConfigError(`${where}.match.${claim} must be a non-empty string (exact value or glob)`);
    if (/^\*+$/.test(pattern)) throw new AuthConfigError(`${where}.match.${claim}: "${pattern}" matches anything; leave the claim out or narrow it`);
    return { claim, pattern, matches: compileGlob(pattern) };
  });
  if (!Array.isArray(raw.grant) || raw.grant.length === 0) throw new AuthConfigError(`${where}.grant must be a non-empty list of {name, actions}`);
  return { match, grant: raw.grant.map((g, i) => parseGrant(g, `${where}.grant[${i}]`)) };
}

function parseIssuer(raw: unknown, where: string): OidcIssuerConfig {
  if (!isObj(raw)) throw new AuthConfigError(`${where} must be a mapping {issuer, audience, rules}`);
  for (const k of Object.keys(raw)) if (!ISSUER_KEYS.includes(k)) throw new AuthConfigError(`${where}.${k}: unknown setting (known: ${ISSUER_KEYS.join(', ')})`);
  const loopback = raw.allow_insecure_loopback ?? false;
  if (typeof loopback !== 'boolean') throw new AuthConfigError(`${where}.allow_insecure_loopback must be true or false`);
  if (typeof raw.issuer !== 'string' || raw.issuer === '') throw new AuthConfigError(`${where}.issuer must be the issuer URL, e.g. https://token.actions.githubusercontent.com`);
  checkOidcUrl(raw.issuer, `${where}.issuer`, loopback);
  const aud = typeof raw.audience === 'string' ? [raw.audience] : raw.audience;
  if (!Array.isArray(aud) || aud.length === 0 || !aud.every((a) => typeof a === 'string' && a !== '')) {
    throw new AuthConfigError(`${where}.audience must be a non-empty string (or list of them): the aud the CI job asks its token for`);
  }
  let jwksUri: string | null = null;
  if (raw.jwks_uri !== undefined && raw.jwks_uri !== null) {
    if (typeof raw.jwks_uri !== 'string') throw new AuthConfigError(`${where}.jwks_uri must be a URL`);
    jwksUri = checkOidcUrl(raw.jwks_uri, `${where}.jwks_uri`, loopback).href;
  }
  if (raw.ca_file !== undefined && raw.ca_file !== null && (typeof raw.ca_file !== 'string' || raw.ca_file === '')) {
    throw new AuthConfigError(`${where}.ca_file must be the path of a PEM file`);
  }
  if (!Array.isArray(raw.rules) || raw.rules.length === 0) {
    throw new AuthConfigError(`${where}.rules must be a non-empty list of {match, grant}: without rules no token of this issuer grants anything`);
  }
  return {
    issuer: raw.issuer,
    audiences: aud as string[],
    jwksUri,
    clockSkewSeconds: int(raw.clock_skew_seconds, `${where}.clock_skew_seconds`, 0, 300, 30),
    jwksCooldownSeconds: int(raw.jwks_cooldown_seconds, `${where}.jwks_cooldown_seconds`, 0, 3600, 30),
    allowInsecureLoopback: loopback,
    caFile: typeof raw.ca_file === 'string' ? raw.ca_file : null,
    rules: raw.rules.map((r, i) => parseRule(r, `${where}.rules[${i}]`)),
  };
}

export function parseOidcConfig(raw: unknown): OidcIssuerConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new AuthConfigError('auth.oidc must be a list of trusted issuers ({issuer, audience, rules})');
  const out = raw.map((r, i) => parseIssuer(r, `auth.oidc[${i}]`));
  const seen = new Set<string>();
  for (const c of out) {
    // Tokens are routed to their issuer's entry by `iss`: two entries for one issuer would be ambiguous.
    if (seen.has(c.issuer)) throw new AuthConfigError(`auth.oidc: issuer ${c.issuer} is listed twice; put all its rules in one entry`);
    seen.add(c.issuer);
  }
  return out;
}
