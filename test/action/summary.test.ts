// Job summary rendering: verdict, a row per tag and per platform, attestations apart, failures listed.
import t from 'tap';
import { formatBytes, renderSummary } from '../../src/summary.js';
import type { VerifyReport } from '../../src/verify/report.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const base: VerifyReport = {
  ok: true,
  digest: D('a'),
  mediaType: 'application/vnd.oci.image.index.v1+json',
  requestedPlatforms: ['linux/amd64', 'linux/arm64'],
  pulled: false,
  tags: [
    { image: 'r.example/app:v1', repository: 'r.example/app', tag: 'v1', expected: D('a'), resolved: D('a'), repaired: false, ok: true },
    { image: 'r.example/app:latest', repository: 'r.example/app', tag: 'latest', expected: D('a'), resolved: D('a'), resolvedBeforeRepair: D('c'), repaired: true, ok: true },
  ],
  platforms: [
    { repository: 'r.example/app', platform: 'linux/amd64', digest: D('b'), mediaType: undefined, blobs: 2, bytes: 2048, ok: true },
    { repository: 'r.example/app', platform: 'linux/arm64', digest: D('c'), mediaType: undefined, blobs: 2, bytes: 100, ok: true },
  ],
  attestations: [{ repository: 'r.example/app', digest: D('d'), refersTo: D('b'), platform: 'linux/amd64', ok: true }],
  failures: [],
  warnings: ['r.example/app:latest resolves to … repaired'],
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
};

t.test('a passing report: verdict, tag rows (repair shown), platform rows, attestations apart', async (t) => {
  const md = renderSummary(base);
  t.match(md, /^### Image verification: ✅ verified/);
  t.match(md, `Pushed digest: \`${D('a')}\` (application/vnd.oci.image.index.v1+json)`);
  t.match(md, 'every blob checked with HEAD (size); requested platforms: `linux/amd64`, `linux/arm64`.');
  t.match(md, `| \`r.example/app:v1\` | \`${D('a')}\` | ✅ |`);
  t.match(md, `| \`r.example/app:latest\` | \`${D('a')}\` | 🔧 repaired (was \`${D('c')}\`) |`);
  t.match(md, `| \`linux/amd64\` | \`${D('b')}\` | 2 | 2.0 KiB | ✅ |`);
  t.match(md, `| \`linux/arm64\` | \`${D('c')}\` | 2 | 100 B | ✅ |`);
  t.match(md, 'Attestation manifests: 1 (linux/amd64) — not counted as platforms.');
  t.notMatch(md, /attestation.*\| ✅ \|/, 'no attestation row in the platform table');
  t.match(md, '**Warnings**');
  t.notMatch(md, '**Failures**');
});

t.test('a failing report lists failures with codes; pipes in messages cannot break the table', async (t) => {
  const md = renderSummary({
    ...base,
    ok: false,
    pulled: true,
    platforms: [{ ...base.platforms[0], ok: false }],
    failures: [{ code: 'BLOB_MISSING', message: 'r.example/app, platform linux/amd64: layer x | y is missing', platform: 'linux/amd64', blob: 'x' }],
    warnings: [],
  });
  t.match(md, /^### Image verification: ❌ failed/);
  t.match(md, 'every blob downloaded and its digest checked');
  t.match(md, `| \`linux/amd64\` | \`${D('b')}\` | 2 | 2.0 KiB | ❌ |`);
  t.match(md, '- `BLOB_MISSING` r.example/app, platform linux/amd64: layer x \\| y is missing');
});

t.test('byte sizes', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
  t.equal(formatBytes(3 * 1024 ** 3), '3.00 GiB');
});
