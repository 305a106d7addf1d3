import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fake `docker` executable for PATH. It appends one JSON line per call to $FAKE_DOCKER_LOG with its argv
 * and whatever it read on stdin (only when --password-stdin is given, as docker does), and mimics:
 *  - login: fails with $FAKE_DOCKER_LOGIN_STDERR when set;
 *  - buildx create: fails (as a bootstrap that cannot pull BuildKit does) when $FAKE_DOCKER_CREATE_FAIL=1;
 *    logs the content of --buildkitd-config as `buildkitdConfig`;
 *  - buildx build: fails when $FAKE_DOCKER_BUILD_FAIL=1; otherwise, when $FAKE_DOCKER_LAYOUT names an OCI
 *    layout, "pushes" it to every --tag with skopeo (so verification runs against a real registry), then,
 *    when $FAKE_DOCKER_TRAP_CHILD is a manifest digest, re-points the last tag at that child manifest
 *    (the buildx double-push race); writes --metadata-file with $FAKE_DOCKER_DIGEST.
 */
const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const args = process.argv.slice(2);
let stdin = null;
if (args.includes('--password-stdin')) stdin = fs.readFileSync(0, 'utf8');
const configArg = args[0] === 'buildx' && args[1] === 'create' ? args[args.indexOf('--buildkitd-config') + 1] : undefined;
const buildkitdConfig = configArg && args.includes('--buildkitd-config') ? fs.readFileSync(configArg, 'utf8') : null;
fs.appendFileSync(process.env.FAKE_DOCKER_LOG, JSON.stringify({ args, stdin, dockerConfig: process.env.DOCKER_CONFIG ?? null, buildkitdConfig }) + '\n');
const main = async () => {
  if (args[0] === 'login' && process.env.FAKE_DOCKER_LOGIN_STDERR) {
    process.stderr.write(process.env.FAKE_DOCKER_LOGIN_STDERR + '\n');
    return 1;
  }
  if (args[0] === 'login') { process.stdout.write('Login Succeeded\n'); return 0; }
  if (args[0] === 'buildx' && args[1] === 'create' && process.env.FAKE_DOCKER_CREATE_FAIL === '1') {
    process.stderr.write('#1 [internal] booting buildkit\nERROR: Error response from daemon: pull access denied for moby/buildkit\n');
    return 1;
  }
  if (args[0] === 'buildx' && args[1] === 'build') {
    if (process.env.FAKE_DOCKER_BUILD_FAIL === '1') { process.stderr.write('ERROR: failed to solve: fake failure\n'); return 1; }
    const tags = args.flatMap((a, i) => (a === '--tag' ? [args[i + 1]] : []));
    const layout = process.env.FAKE_DOCKER_LAYOUT;
    if (layout) {
      for (const tag of tags) execFileSync('skopeo', ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '-q', 'oci:' + layout + ':latest', 'docker://' + tag]);
      const child = process.env.FAKE_DOCKER_TRAP_CHILD;
      if (child) {
        const last = tags[tags.length - 1];
        const slash = last.indexOf('/'); const colon = last.lastIndexOf(':');
        const res = await fetch('http://' + last.slice(0, slash) + '/v2/' + last.slice(slash + 1, colon) + '/manifests/' + last.slice(colon + 1), {
          method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: fs.readFileSync(layout + '/blobs/sha256/' + child.slice(7)),
        });
        if (res.status !== 201) throw new Error('trap PUT failed: ' + res.status);
      }
    }
    const mf = args[args.indexOf('--metadata-file') + 1];
    fs.writeFileSync(mf, JSON.stringify({ 'containerimage.digest': process.env.FAKE_DOCKER_DIGEST || 'sha256:' + '1'.repeat(64), 'image.name': tags.join(',') }));
    return 0;
  }
  return 0;
};
main().then((code) => process.exit(code), (err) => { process.stderr.write(String(err) + '\n'); process.exit(2); });
`;

export interface FakeDockerCall {
  args: string[];
  stdin: string | null;
  dockerConfig: string | null;
  /** For `buildx create --buildkitd-config FILE`: the file's content when docker ran. */
  buildkitdConfig: string | null;
}

export interface FakeDocker {
  /** Directory to put first on PATH. */
  bin: string;
  log: string;
  calls(): FakeDockerCall[];
}

export function installFakeDocker(): FakeDocker {
  const bin = mkdtempSync(join(tmpdir(), 'nitro-fake-docker-'));
  const path = join(bin, 'docker');
  // .cjs semantics via require(): the script runs outside any package.json with "type": "module".
  writeFileSync(path, SCRIPT);
  chmodSync(path, 0o755);
  const log = join(bin, 'calls.jsonl');
  writeFileSync(log, '');
  return {
    bin,
    log,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FakeDockerCall),
  };
}
