#!/usr/bin/env node
// Stages what the container images hold, from a built checkout (npm ci + npm run build), into two trees:
//
//   OUT/server  package.json, bin/, the compiled server (build/reference-server), the resumable-hash
//               addon (reference-server/native/build/Release/resumable_hash.node) and the node_modules
//               the server needs: the production dependencies except those only the other commands use.
//               The slim image (Dockerfile target `server`, the default).
//   OUT/full    what the full image (target `full`) adds on top: the conformance suite (build/conformance,
//               tap and its tree) and `verify` (build/src, undici). Only files not already in OUT/server.
//
// Dependencies are followed the way Node resolves them (nearest node_modules upwards), through
// dependencies, optionalDependencies and peerDependencies, so the server tree is exactly the closure of
// its roots. Used by scripts/ci/build-server-image.sh (offline) and the Dockerfile's from-source stage.
//
// Usage: node scripts/stage-app.mjs ROOT OUT
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** Production dependencies that only the full image's commands need; every other one is the server's. */
// undici is the server's too (S3 reads through presigned URLs, the OIDC issuer's private CA).
const FULL_ONLY = { tap: 'conformance' };
/** Compiled output per image; the bin's command table skips a command whose module is absent. */
const SERVER_BUILD = ['build/reference-server/src'];
const FULL_BUILD = ['build/conformance/src', 'build/src'];

const [root, out] = process.argv.slice(2);
if (!root || !out) {
  process.stderr.write('usage: node scripts/stage-app.mjs ROOT OUT\n');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const deps = Object.keys(pkg.dependencies ?? {});
for (const name of Object.keys(FULL_ONLY)) if (!deps.includes(name)) fail(`${name} is listed in FULL_ONLY but is not a dependency`);
for (const dir of [...SERVER_BUILD, ...FULL_BUILD]) if (!existsSync(join(root, dir))) fail(`${dir} is missing: run npm run build first`);

const serverPackages = closure(deps.filter((d) => !(d in FULL_ONLY)));
const fullPackages = closure(deps);

const server = join(out, 'server');
copy('package.json', server);
copy('bin', server);
for (const dir of SERVER_BUILD) copyBuild(dir, server);
for (const p of serverPackages) copyPackage(p, server);
const full = join(out, 'full');
mkdirSync(full, { recursive: true });
for (const dir of FULL_BUILD) copyBuild(dir, full);
for (const p of fullPackages) if (!serverPackages.has(p)) copyPackage(p, full);
slimBetterSqlite(server);
copyNativeHash(server);
process.stdout.write(`staged ${serverPackages.size} packages for the server, ${fullPackages.size - serverPackages.size} more for the full image\n`);

/** Package directories (relative to root) reachable from the named root dependencies. */
function closure(names) {
  const seen = new Set();
  const visit = (name, fromDir, optional) => {
    const dir = resolvePackage(name, fromDir);
    if (!dir) {
      if (optional) return;
      fail(`cannot resolve ${name} from ${relative(root, fromDir) || '.'} (is node_modules complete? npm ci)`);
    }
    const rel = relative(root, dir);
    if (seen.has(rel)) return;
    seen.add(rel);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const d of Object.keys(meta.dependencies ?? {})) visit(d, dir, false);
    for (const d of Object.keys(meta.optionalDependencies ?? {})) visit(d, dir, true);
    // Peers are the installer's business; include them when installed (npm 7+ installs them).
    for (const d of Object.keys(meta.peerDependencies ?? {})) visit(d, dir, true);
  };
  for (const name of names) visit(name, root, false);
  return seen;
}

/** Node's lookup: <dir>/node_modules/<name>, then the parent directories' node_modules, up to root. */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || relative(root, dir).startsWith('..')) return undefined;
    // From inside node_modules/a/node_modules/b, the next place to look is node_modules/a.
    if (dirname(dir) === dir) return undefined;
  }
}

function copy(rel, dest) {
  cpSync(join(root, rel), join(dest, rel), { recursive: true });
}

/** Compiled JS and JSON only: no source maps, declarations or tsc's incremental state. */
function copyBuild(rel, dest) {
  cpSync(join(root, rel), join(dest, rel), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || /\.(js|json)$/.test(src),
  });
}

/** A package without its nested node_modules (those are staged as packages of their own) and docs. */
function copyPackage(rel, dest) {
  const src = join(root, rel);
  cpSync(src, join(dest, rel), {
    recursive: true,
    filter: (path) => {
      const inner = relative(src, path);
      return !inner.split(sep).includes('node_modules') && !/\.md$/i.test(inner);
    },
  });
}

/** better-sqlite3 at run time needs lib/, package.json and the compiled addon; not SQLite's sources. */
function slimBetterSqlite(dest) {
  const b = join(dest, 'node_modules/better-sqlite3');
  if (!existsSync(b)) fail('better-sqlite3 is not among the server packages');
  for (const sub of ['deps', 'src', 'build/deps', 'build/Release/obj.target', 'build/Release/.deps', 'build/Release/obj', 'build/Release/test_extension.node']) {
    const p = join(b, sub);
    rmSync(p, { recursive: true, force: true });
  }
  if (!readdirSync(join(b, 'build/Release')).some((f) => f.endsWith('.node'))) fail('better-sqlite3 has no compiled addon (build/Release/*.node)');
}

/**
 * The resumable-hash addon (reference-server/native, built by `npm ci`), at the same path relative to
 * the app root so native-hash.ts finds it. Required: the images run with NITRO_REGISTRY_REQUIRE_NATIVE=1.
 */
function copyNativeHash(dest) {
  const rel = 'reference-server/native/build/Release/resumable_hash.node';
  if (!existsSync(join(root, rel))) fail(`${rel} is missing: build it with npm run build:native (npm ci does)`);
  mkdirSync(join(dest, dirname(rel)), { recursive: true });
  cpSync(join(root, rel), join(dest, rel));
}

function fail(message) {
  process.stderr.write(`stage-app: ${message}\n`);
  process.exit(1);
}
