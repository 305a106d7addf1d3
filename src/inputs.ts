import { parseBoolean, parseKeyValues, parseList, parseSeconds } from './lists.js';
import { DEFAULT_DEADLINE_MS, readCaCert } from './registry/transport.js';

/** Reads one input by its action.yml name; `core.getInput` in the Action, a map in tests. */
export type InputGetter = (name: string) => string;

/** The keyless-login inputs (`oidc`, `oidc-audience`), the same in the root action and the login/ and verify/ sub-actions. */
export interface OidcInputs {
  /** Keyless: log in with the job's OIDC token (user name `oidc`) instead of username/password. */
  oidc: boolean;
  /** The `aud` to ask the runner's token service for; the registry's auth.oidc audience. */
  oidcAudience: string;
}

/** Every input of the root action, parsed once. Defaults here match action.yml. */
export interface ActionInputs extends OidcInputs {
  registry: string;
  username: string;
  password: string;
  logout: boolean;
  insecure: boolean;
  /** PEM of a private CA (from `ca-cert`: the PEM itself or a file path); undefined when not given. */
  caCert: string | undefined;
  context: string;
  file: string;
  tags: string[];
  platforms: string[];
  buildArgs: Map<string, string>;
  labels: Map<string, string>;
  defaultLabels: boolean;
  target: string;
  provenance: string;
  sbom: string;
  cacheFrom: string[];
  cacheTo: string[];
  builder: string;
  createBuilder: boolean;
  push: boolean;
  verify: boolean;
  verifyPull: boolean;
  repair: boolean;
  /** Overall deadline of the verification's registry requests, in ms (0: none). */
  verifyTimeoutMs: number;
  reportPath: string;
}

const DEFAULT_TIMEOUT_SECONDS = DEFAULT_DEADLINE_MS / 1000;
export const DEFAULT_OIDC_AUDIENCE = 'nitro-registry';

function readOidcInputs(get: InputGetter): OidcInputs {
  return { oidc: parseBoolean('oidc', get('oidc'), false), oidcAudience: get('oidc-audience').trim() || DEFAULT_OIDC_AUDIENCE };
}

/** With `oidc: true` the job's token is the credential: a username or password besides it would be ignored, so it is refused. */
function rejectPasswordBesideOidc(inputs: OidcInputs & { username: string; password: string }): void {
  if (inputs.oidc && (inputs.username || inputs.password)) {
    throw new Error('Input "oidc" is true: the job\'s OIDC token replaces "username" and "password"; leave them empty');
  }
}

export function readActionInputs(get: InputGetter): ActionInputs {
  const str = (name: string) => get(name).trim();
  const bool = (name: string, fallback: boolean) => parseBoolean(name, get(name), fallback);
  const inputs: ActionInputs = {
    registry: str('registry'),
    username: str('username'),
    // Passwords keep their whitespace except the trailing newline a multiline secret tends to carry.
    password: get('password').replace(/\r?\n$/, ''),
    ...readOidcInputs(get),
    logout: bool('logout', true),
    insecure: bool('insecure', false),
    caCert: readCaCert(get('ca-cert'), 'Input "ca-cert"'),
    context: str('context'),
    file: str('file'),
    tags: parseList(get('tags')),
    platforms: parseList(get('platforms')),
    buildArgs: parseKeyValues('build-args', parseList(get('build-args'), { commas: false })),
    labels: parseKeyValues('labels', parseList(get('labels'), { commas: false })),
    defaultLabels: bool('default-labels', true),
    target: str('target'),
    provenance: str('provenance'),
    sbom: str('sbom'),
    cacheFrom: parseList(get('cache-from'), { commas: false }),
    cacheTo: parseList(get('cache-to'), { commas: false }),
    builder: str('builder'),
    createBuilder: bool('create-builder', false),
    push: bool('push', true),
    verify: bool('verify', true),
    verifyPull: bool('verify-pull', false),
    repair: bool('repair', true),
    verifyTimeoutMs: parseSeconds('verify-timeout', get('verify-timeout'), DEFAULT_TIMEOUT_SECONDS),
    reportPath: str('report-path'),
  };
  rejectPasswordBesideOidc(inputs);
  if (inputs.password && !inputs.username) throw new Error('Input "password" is set but "username" is empty');
  if (inputs.username && !inputs.password) throw new Error('Input "username" is set but "password" is empty');
  if (inputs.context && inputs.push && inputs.tags.length === 0) throw new Error('Input "tags" is required to push (or set push: false)');
  return inputs;
}

/** Inputs of the verify/ sub-action. */
export interface VerifyInputs extends OidcInputs {
  images: string[];
  digest: string;
  /** docker/build-push-action's `metadata` output (JSON), to take the digest and image names from. */
  metadata: string;
  platforms: string[];
  registry: string;
  username: string;
  password: string;
  insecure: boolean;
  caCert: string | undefined;
  pull: boolean;
  repair: boolean;
  timeoutMs: number;
  reportPath: string;
}

export function readVerifyInputs(get: InputGetter): VerifyInputs {
  const inputs: VerifyInputs = {
    images: parseList(get('images')),
    digest: get('digest').trim(),
    metadata: get('metadata').trim(),
    platforms: parseList(get('platforms')),
    registry: get('registry').trim(),
    username: get('username').trim(),
    password: get('password').replace(/\r?\n$/, ''),
    ...readOidcInputs(get),
    insecure: parseBoolean('insecure', get('insecure'), false),
    caCert: readCaCert(get('ca-cert'), 'Input "ca-cert"'),
    pull: parseBoolean('pull', get('pull'), false),
    repair: parseBoolean('repair', get('repair'), false),
    timeoutMs: parseSeconds('timeout', get('timeout'), DEFAULT_TIMEOUT_SECONDS),
    reportPath: get('report-path').trim(),
  };
  rejectPasswordBesideOidc(inputs);
  return inputs;
}

/**
 * Inputs of the login/ sub-action. No `insecure`: whether `docker login` may use plain HTTP is the Docker
 * daemon's decision (loopback always, other hosts when listed in insecure-registries); nothing the action
 * could pass changes it.
 */
export interface LoginInputs extends OidcInputs {
  registry: string;
  username: string;
  password: string;
  logout: boolean;
  /** PEM of a private CA, installed for the Docker daemon (certs.d) for this registry. */
  caCert: string | undefined;
}

export function readLoginInputs(get: InputGetter): LoginInputs {
  const username = get('username').trim();
  const password = get('password').replace(/\r?\n$/, '');
  const oidc = readOidcInputs(get);
  rejectPasswordBesideOidc({ ...oidc, username, password });
  if (!oidc.oidc && (!username || !password)) throw new Error('Inputs "username" and "password" are required (or "oidc: true" for the job\'s OIDC token)');
  return {
    registry: get('registry').trim(),
    username,
    password,
    ...oidc,
    logout: parseBoolean('logout', get('logout'), true),
    caCert: readCaCert(get('ca-cert'), 'Input "ca-cert"'),
  };
}
