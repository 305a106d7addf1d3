/**
 * Entry of the login/ sub-action: (ca-cert for the daemon) → docker login (password, or the job's OIDC
 * token with `oidc: true`, on stdin); docker logout and the CA's removal in its post step.
 */
import * as core from '@actions/core';
import { dockerLogin, dockerLogout } from './docker/login.js';
import { installDaemonCa, removeDaemonCa } from './docker/registry-ca.js';
import { readLoginInputs } from './inputs.js';
import { runMainOrPost, loadPostState, markMainStarted, savePostState } from './post-state.js';
import { registryHost } from './registry/image-ref.js';
import { credentialNote, inputCredentials } from './registry/oidc-credentials.js';

/** Untrimmed: the parsers trim what should be trimmed, and a password keeps its spaces. */
const rawInput = (name: string) => core.getInput(name, { trimWhitespace: false });

async function main(): Promise<void> {
  markMainStarted();
  const inputs = readLoginInputs(rawInput);
  if (inputs.password) core.setSecret(inputs.password);
  const host = registryHost(inputs.registry);
  if (inputs.caCert) savePostState({ installedCa: await installDaemonCa([host], inputs.caCert) });
  // Always a credential: readLoginInputs demands username/password unless oidc is true.
  const credentials = (await inputCredentials(inputs))!;
  await core.group(`Logging in to ${host}${credentialNote(inputs)}`, () => dockerLogin(host, credentials.username, credentials.password));
  if (inputs.logout) savePostState({ logoutRegistry: host });
}

async function post(): Promise<void> {
  const state = loadPostState();
  if (state.logoutRegistry) await dockerLogout(state.logoutRegistry);
  if (state.installedCa) await removeDaemonCa(state.installedCa);
}

await runMainOrPost(main, post);
