/**
 * Entry of the root action: (ca-cert for the daemon) → login (username/password, or the job's OIDC
 * token with `oidc: true`) → build and push → verify with the same credential; the post step
 * (same bundle, told apart by saved state) removes a builder it created, logs out and removes the CA it
 * installed. Orchestration only: the work is in modules.
 */
import * as core from '@actions/core';
import { buildAndPush, builderName, createBuilder, removeBuilder } from './docker/buildx.js';
import { dockerLogin, dockerLogout } from './docker/login.js';
import { dockerRegistryHosts, installDaemonCa, removeDaemonCa, writeBuildkitdConfig } from './docker/registry-ca.js';
import { defaultOciLabels, mergeLabels } from './github-labels.js';
import { readActionInputs } from './inputs.js';
import { runMainOrPost, loadPostState, markMainStarted, savePostState } from './post-state.js';
import { digestRefs } from './refs.js';
import { registryHost } from './registry/image-ref.js';
import { credentialNote, inputCredentials } from './registry/oidc-credentials.js';
import { publishReport, verificationError } from './verify/publish.js';
import { runVerification } from './verify/run-verification.js';

/** Untrimmed: the parsers trim what should be trimmed, and a password keeps its spaces. */
const rawInput = (name: string) => core.getInput(name, { trimWhitespace: false });

async function main(): Promise<void> {
  markMainStarted();
  const inputs = readActionInputs(rawInput);
  if (inputs.password) core.setSecret(inputs.password);
  const host = registryHost(inputs.registry);
  const dockerHosts = dockerRegistryHosts(inputs.registry, inputs.tags);

  if (inputs.caCert) savePostState({ installedCa: await installDaemonCa(dockerHosts, inputs.caCert) });
  const credentials = await inputCredentials(inputs);
  if (credentials) {
    await core.group(`Logging in to ${host}${credentialNote(inputs)}`, () => dockerLogin(host, credentials.username, credentials.password));
    if (inputs.logout) savePostState({ logoutRegistry: host });
  }
  if (!inputs.context) {
    core.info('No build context given: login only.');
    return;
  }

  let builder = inputs.builder || undefined;
  if (inputs.createBuilder) {
    builder = builderName(inputs.builder);
    // Saved first: a bootstrap that fails leaves a registered builder for the post step to remove.
    savePostState({ createdBuilder: builder });
    await createBuilder(builder, { buildkitdConfig: inputs.caCert ? writeBuildkitdConfig(dockerHosts, inputs.caCert) : undefined });
  }
  const labels = inputs.defaultLabels ? mergeLabels(defaultOciLabels(), inputs.labels) : inputs.labels;
  const build = await buildAndPush(inputs, labels, builder);
  core.setOutput('metadata', JSON.stringify(build.metadata));
  if (!inputs.push || !build.digest) {
    core.info('push: false — built only, nothing to verify.');
    return;
  }
  core.setOutput('digest', build.digest);
  core.setOutput('refs', digestRefs(inputs.tags, build.digest).join('\n'));
  if (!inputs.verify) {
    core.info('verify: false — skipping verification.');
    return;
  }

  const report = await core.group('Verifying what the registry serves', () =>
    runVerification(
      { images: inputs.tags, expectedDigest: build.digest, platforms: inputs.platforms, pull: inputs.verifyPull, repair: inputs.repair },
      {
        registry: inputs.registry,
        credentials,
        insecure: inputs.insecure,
        caCert: inputs.caCert,
        deadlineMs: inputs.verifyTimeoutMs,
        log: core.info,
      },
    ),
  );
  await publishReport(report, inputs.reportPath);
  if (!report.ok) throw verificationError(report);
}

async function post(): Promise<void> {
  const state = loadPostState();
  if (state.createdBuilder) await removeBuilder(state.createdBuilder);
  if (state.logoutRegistry) await dockerLogout(state.logoutRegistry);
  if (state.installedCa) await removeDaemonCa(state.installedCa);
}

await runMainOrPost(main, post);
