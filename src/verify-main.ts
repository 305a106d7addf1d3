/**
 * Entry of the verify/ sub-action: checks images pushed by anything (docker/build-push-action — pass its
 * `metadata` output —, bake, skopeo…) through the registry API.
 */
import * as core from '@actions/core';
import { readVerifyInputs } from './inputs.js';
import { digestRefs } from './refs.js';
import { parseImageRef } from './registry/image-ref.js';
import { inputCredentials } from './registry/oidc-credentials.js';
import { parseBuildMetadata } from './verify/build-metadata.js';
import { publishReport, verificationError } from './verify/publish.js';
import { runVerification } from './verify/run-verification.js';

/** Untrimmed: the parsers trim what should be trimmed, and a password keeps its spaces. */
const rawInput = (name: string) => core.getInput(name, { trimWhitespace: false });

async function run(): Promise<void> {
  try {
    const inputs = readVerifyInputs(rawInput);
    if (inputs.password) core.setSecret(inputs.password);
    const fromMetadata = inputs.metadata ? parseBuildMetadata(inputs.metadata) : { images: [], digest: undefined };
    const images = inputs.images.length ? inputs.images : fromMetadata.images;
    const digest = inputs.digest || fromMetadata.digest;
    if (images.length === 0) throw new Error('Nothing to verify: set "images" or pass docker/build-push-action\'s "metadata" output');
    const registry = inputs.registry || parseImageRef(images[0]).host;
    const credentials = await inputCredentials(inputs);
    const report = await core.group('Verifying what the registry serves', () =>
      runVerification(
        { images, expectedDigest: digest, platforms: inputs.platforms, pull: inputs.pull, repair: inputs.repair },
        {
          registry,
          credentials,
          insecure: inputs.insecure,
          caCert: inputs.caCert,
          deadlineMs: inputs.timeoutMs,
          log: core.info,
        },
      ),
    );
    if (report.digest) {
      core.setOutput('digest', report.digest);
      core.setOutput('refs', digestRefs(images, report.digest).join('\n'));
    }
    await publishReport(report, inputs.reportPath);
    if (!report.ok) throw verificationError(report);
  } catch (err) {
    core.setFailed(err instanceof Error ? err.message : String(err));
  }
}

await run();
