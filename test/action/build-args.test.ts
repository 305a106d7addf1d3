// The docker buildx build argument list, the default OCI labels and the `refs` output.
import t from 'tap';
import { buildxBuildArgs } from '../../src/docker/buildx-args.js';
import { defaultOciLabels, mergeLabels } from '../../src/github-labels.js';
import { readActionInputs } from '../../src/inputs.js';
import { digestRefs } from '../../src/refs.js';

const inputs = (values: Record<string, string>) => readActionInputs((n) => values[n] ?? '');

t.test('every input maps to its flag, in a stable order, context last', async (t) => {
  const i = inputs({
    context: './app',
    file: './app/Dockerfile.prod',
    tags: 'r.example/a:1,r.example/a:latest',
    platforms: 'linux/amd64,linux/arm64',
    'build-args': 'VERSION=1.2\nNOTE=a,b',
    target: 'runtime',
    provenance: 'mode=max',
    sbom: 'true',
    'cache-from': 'type=registry,ref=r.example/a:cache',
    'cache-to': 'type=inline',
  });
  const args = buildxBuildArgs(i, new Map([['k', 'v']]), '/tmp/meta.json', 'mybuilder');
  t.same(args, [
    'buildx', 'build', '--builder', 'mybuilder', '--file', './app/Dockerfile.prod', '--platform', 'linux/amd64,linux/arm64',
    '--tag', 'r.example/a:1', '--tag', 'r.example/a:latest', '--build-arg', 'VERSION=1.2', '--build-arg', 'NOTE=a,b',
    '--label', 'k=v', '--target', 'runtime', '--provenance=mode=max', '--sbom=true',
    '--cache-from', 'type=registry,ref=r.example/a:cache', '--cache-to', 'type=inline', '--metadata-file', '/tmp/meta.json', '--push', './app',
  ]);
});

t.test('push: false builds only; insecure non-loopback registries get registry.insecure', async (t) => {
  const buildOnly = buildxBuildArgs(inputs({ context: '.', push: 'false' }), new Map(), '/m');
  t.notOk(buildOnly.includes('--push'));
  t.notOk(buildOnly.includes('--output'));
  const loopback = buildxBuildArgs(inputs({ context: '.', tags: '127.0.0.1:5000/a:1', insecure: 'true' }), new Map(), '/m');
  t.ok(loopback.includes('--push'), 'the engine already treats loopback as insecure');
  const remote = buildxBuildArgs(inputs({ context: '.', tags: 'reg.internal:5000/a:1', insecure: 'true' }), new Map(), '/m');
  t.same(remote.slice(-3), ['--output', 'type=image,push=true,registry.insecure=true', '.']);
});

t.test('default OCI labels come from the GitHub context; user labels win', async (t) => {
  const now = new Date('2026-01-02T03:04:05.000Z');
  const defaults = defaultOciLabels({ GITHUB_SERVER_URL: 'https://ghe.example', GITHUB_REPOSITORY: 'o/r', GITHUB_SHA: 'deadbeef' }, now);
  t.same([...defaults], [
    ['org.opencontainers.image.source', 'https://ghe.example/o/r'],
    ['org.opencontainers.image.revision', 'deadbeef'],
    ['org.opencontainers.image.created', '2026-01-02T03:04:05.000Z'],
  ]);
  const merged = mergeLabels(defaults, new Map([['org.opencontainers.image.source', 'https://elsewhere']]));
  t.equal(merged.get('org.opencontainers.image.source'), 'https://elsewhere');
  t.same([...defaultOciLabels({}, now)], [['org.opencontainers.image.created', '2026-01-02T03:04:05.000Z']], 'outside Actions only `created`');
});

t.test('refs: one name@digest per repository', async (t) => {
  const d = `sha256:${'a'.repeat(64)}`;
  t.same(digestRefs(['r.example/a:1', 'r.example/a:2', 'ghcr.io/o/a:1'], d), [`r.example/a@${d}`, `ghcr.io/o/a@${d}`]);
});
