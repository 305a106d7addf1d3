/**
 * Keyless login: the job's OIDC token (GitHub Actions, `permissions: id-token: write`) as the password of
 * the fixed user name `oidc`, which a registry with auth.oidc exchanges for a registry token scoped by
 * its rules. Nothing secret is stored anywhere: the token names the workflow run and lives minutes.
 *
 * The token is fetched from the runner's token service (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, what
 * @actions/core getIDToken reads) and masked before anything could print it.
 */
import * as core from '@actions/core';
import { ActionError } from '../errors.js';
import type { OidcInputs } from '../inputs.js';

/** The Basic user name that carries an OIDC token (the reference server's reserved name). */
export const OIDC_USERNAME = 'oidc';

export interface Credentials {
  username: string;
  password: string;
}

export async function oidcCredentials(audience: string): Promise<Credentials> {
  if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL || !process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    throw new ActionError(
      'INVALID_INPUT',
      'oidc: true, but the job cannot request an OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set): add `permissions: id-token: write` to the job',
    );
  }
  let token: string;
  try {
    token = await core.getIDToken(audience);
  } catch (e) {
    throw new ActionError('AUTH_FAILED', `requesting the job's OIDC token for audience "${audience}" failed: ${(e as Error).message}`);
  }
  core.setSecret(token);
  return { username: OIDC_USERNAME, password: token };
}

/**
 * The credential of an action's inputs (root, login/, verify/): the job's OIDC token with `oidc: true`,
 * else username/password when given, else none.
 */
export async function inputCredentials(inputs: OidcInputs & Credentials): Promise<Credentials | undefined> {
  if (inputs.oidc) return oidcCredentials(inputs.oidcAudience);
  return inputs.username ? { username: inputs.username, password: inputs.password } : undefined;
}

/** What the login log line adds about the credential: the audience of an OIDC token; nothing for a password. */
export function credentialNote(inputs: OidcInputs): string {
  return inputs.oidc ? ` with the job's OIDC token (audience ${inputs.oidcAudience})` : '';
}
