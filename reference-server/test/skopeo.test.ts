/**
 * A real client: skopeo copies a two-platform OCI layout (linux/amd64 + linux/arm64, FROM-scratch style)
 * into a listening registry and back out, byte-identical; inspect --raw, list-tags and delete.
 * Skips with a visible reason when skopeo is not installed (.ci/run installs it).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startRegistry } from '../src/server.js';
import { multiPlatformIndex, writeOciLayout, allBlobs, allManifests } from './helpers/oci.js';

const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

function skopeo(args: string[], home: string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      SKOPEO!,
      // --insecure-policy: no /etc/containers/policy.json needed; the registry is plain HTTP on loopback.
      ['--insecure-policy', ...args],
      { encoding: 'buffer', timeout: 90_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: home, XDG_RUNTIME_DIR: home } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

t.test('skopeo round-trips a multi-platform image', { skip: SKOPEO ? false : 'skopeo is not installed (apt-get install skopeo; .ci/run installs it)' }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'nitro-skopeo-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const layout = join(work, 'layout');
  const out = join(work, 'out');
  const index = multiPlatformIndex(['linux/amd64', 'linux/arm64']);
  writeOciLayout(layout, index);

  const running = await startRegistry({ listen: '127.0.0.1:0', data: join(work, 'data'), log_level: 'silent', auth: { enabled: false } });
  t.teardown(() => running.close());
  const host = running.url.replace(/^http:\/\//, '');
  const ref = `docker://${host}/ns/app`;

  const push = await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}`, `${ref}:1`], work);
  t.equal(push.code, 0, `skopeo copy into the registry${push.code ? `: ${push.stderr.slice(-500)}` : ''}`);

  // The registry holds the exact index bytes and both platform manifests.
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `${ref}:1`], work);
  t.equal(raw.code, 0, `inspect --raw${raw.code ? `: ${raw.stderr.slice(-300)}` : ''}`);
  t.ok(raw.stdout.equals(index.bytes), 'inspect --raw returns the exact index bytes');
  const res = await fetch(`${running.url}/v2/ns/app/manifests/1`, { headers: { Accept: index.mediaType } });
  t.equal(res.headers.get('docker-content-digest'), index.digest, 'tag 1 names the index digest');
  for (const m of index.children) {
    const child = await fetch(`${running.url}/v2/ns/app/manifests/${m.digest}`);
    t.equal(child.status, 200, `platform manifest ${m.platform?.architecture} stored`);
    t.ok(Buffer.from(await child.arrayBuffer()).equals(m.bytes), `platform manifest ${m.platform?.architecture} bytes`);
  }

  const pull = await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `${ref}:1`, `oci:${out}:1`], work);
  t.equal(pull.code, 0, `skopeo copy out of the registry${pull.code ? `: ${pull.stderr.slice(-500)}` : ''}`);
  const outIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.same(
    outIndex.manifests.map((m) => m.digest),
    [index.digest],
    'the copied-out layout points at the same index digest',
  );
  const expected = [...allBlobs(index), ...allManifests(index)];
  for (const b of expected) {
    const file = join(out, 'blobs', 'sha256', b.digest.slice('sha256:'.length));
    t.ok(existsSync(file) && readFileSync(file).equals(b.bytes), `${b.digest.slice(0, 19)}… (${b.mediaType}) byte-identical`);
  }
  t.equal(readdirSync(join(out, 'blobs', 'sha256')).length, expected.length, 'nothing more, nothing less');

  const tags = await skopeo(['list-tags', '--tls-verify=false', ref], work);
  t.equal(tags.code, 0, `list-tags${tags.code ? `: ${tags.stderr.slice(-300)}` : ''}`);
  t.same(JSON.parse(tags.stdout.toString()).Tags, ['1']);

  const del = await skopeo(['delete', '--tls-verify=false', `${ref}:1`], work);
  t.equal(del.code, 0, `delete${del.code ? `: ${del.stderr.slice(-300)}` : ''}`);
  const gone = await skopeo(['inspect', '--raw', '--tls-verify=false', `${ref}:1`], work);
  t.not(gone.code, 0, 'the tag no longer resolves after delete');
  t.equal((await fetch(`${running.url}/v2/ns/app/manifests/${index.digest}`)).status, 404, 'the index is deleted');
  const after = await fetch(`${running.url}/v2/ns/app/tags/list`);
  const afterBody = after.status === 200 ? ((await after.json()) as { tags: string[] }).tags : [];
  t.same(afterBody, [], 'no tags left');
});
