#!/usr/bin/env node
// Bundles the GitHub Action entry points with esbuild (ncc breaks on the ESM-only @actions/* 3.x):
// one self-contained ESM file per action, plus dist/licenses.txt for every bundled third-party package.
// The output is deterministic, so CI can rebuild and diff it (scripts/check-dist.sh).
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/** entry (relative to the repo) → bundle (relative to dist/). */
const ENTRIES = {
  'src/main.ts': 'index.mjs',
  'src/verify-main.ts': 'verify/index.mjs',
  'src/login-main.ts': 'login/index.mjs',
  // The conformance suite (conformance/src) as an action; its action.yml is conformance/action.yml.
  'src/conformance-main.ts': 'conformance/index.mjs',
};

// Bundled CommonJS dependencies call require() for Node built-ins; ESM output has no require of its own.
const banner = "import { createRequire as __nitroCreateRequire } from 'node:module';\nconst require = __nitroCreateRequire(import.meta.url);";

rmSync(dist, { recursive: true, force: true });
const packages = new Map();
for (const [entry, out] of Object.entries(ENTRIES)) {
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile: join(dist, out),
    // Paths in the output (module comments, the licenses list) are relative to the repository, whatever
    // the checkout directory; symlinks are kept so a linked node_modules gives the same bytes.
    absWorkingDir: root,
    preserveSymlinks: true,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    banner: { js: banner },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const pkg = packageRootOf(input);
    if (pkg) packages.set(pkg, (packages.get(pkg) ?? new Set()).add(out));
  }
}
writeFileSync(join(dist, 'licenses.txt'), licensesText(packages));
// The runner loads .mjs as ESM by extension; this also covers tools that look for a package.json.
writeFileSync(join(dist, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
console.log(`built ${Object.values(ENTRIES).map((o) => `dist/${o}`).join(', ')} and dist/licenses.txt (${packages.size} packages)`);

/** node_modules/@scope/name/... → node_modules/@scope/name (innermost node_modules wins). */
function packageRootOf(input) {
  const parts = input.split(/[\\/]/);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return undefined;
  const depth = parts[i + 1]?.startsWith('@') ? 3 : 2;
  return parts.slice(0, i + depth).join(sep);
}

function licensesText(pkgs) {
  const blocks = [];
  for (const dir of [...pkgs.keys()].sort()) {
    const abs = join(root, dir);
    const meta = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(abs).find((f) => /^(licen[cs]e|copying)(\..*)?$/i.test(f));
    const text = licenseFile ? readFileSync(join(abs, licenseFile), 'utf8').trim() : `(no license file; package.json says ${meta.license ?? 'nothing'})`;
    blocks.push(`${meta.name}@${meta.version} — ${meta.license ?? 'UNKNOWN'}\nused by: ${[...pkgs.get(dir)].sort().map((o) => `dist/${o}`).join(', ')}\nfrom: ${relative(root, abs).split(sep).join('/')}\n\n${text}\n`);
  }
  return `Third-party software bundled into dist/ by scripts/build-action.mjs\n\n${blocks.join(`\n${'-'.repeat(78)}\n\n`)}`;
}
