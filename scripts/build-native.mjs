#!/usr/bin/env node
// Builds the resumable-hash addon (reference-server/native) with node-gyp; run by `npm ci` / `npm install`
// (the package's "install" script) and by `npm run build:native`.
//
// Headers: the running node's own (<prefix>/include/node, which also holds the OpenSSL headers the
// addon compiles against) when present — official tarballs, the node images and Debian's nodejs-dev all
// have them — so nothing is downloaded; otherwise node-gyp fetches them as usual.
//
// A failed build is a warning: the server then hashes with its JavaScript engine (slower, same state
// format). With NITRO_REGISTRY_REQUIRE_NATIVE=1 (CI, image builds) it is an error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'reference-server', 'native');
const required = process.env.NITRO_REGISTRY_REQUIRE_NATIVE === '1';

function nodeGyp() {
  // npm sets npm_config_node_gyp in lifecycle scripts (its bundled node-gyp); else the installed package.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    return createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

function finish(ok, why) {
  if (ok) return;
  const msg = `build-native: resumable-hash addon not built (${why}); the server will use its JavaScript SHA-2 engine`;
  if (required) {
    process.stderr.write(`${msg}\nbuild-native: NITRO_REGISTRY_REQUIRE_NATIVE=1: failing\n`);
    process.exit(1);
  }
  process.stderr.write(`${msg}\n`);
  process.exit(0);
}

const gyp = nodeGyp();
if (!gyp) finish(false, 'node-gyp not found');
const prefix = dirname(dirname(process.execPath));
const args = [gyp, 'rebuild', `--directory=${dir}`];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'openssl', 'sha.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
finish(r.status === 0 && existsSync(join(dir, 'build', 'Release', 'resumable_hash.node')), `node-gyp exited ${r.status ?? r.signal}`);
process.stderr.write('build-native: reference-server/native/build/Release/resumable_hash.node\n');
