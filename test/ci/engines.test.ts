// The Node range package.json states (engines.node) is one every installed package supports: otherwise
// `npm ci` warns EBADENGINE on a Node we claim to support. Read from package-lock.json, which records
// each package's engines, so the check covers devDependencies and transitive packages too.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import t from 'tap';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
};

t.ok(semver.validRange(pkg.engines.node), `engines.node is a valid range: ${pkg.engines.node}`);
t.ok(semver.satisfies(process.version, pkg.engines.node), `the Node running the tests (${process.version}) is in it`);
t.ok(semver.satisfies('24.0.0', pkg.engines.node), 'Node 24, the runtime of the Action, is in it');

const outside: string[] = [];
for (const [path, meta] of Object.entries(lock.packages)) {
  const range = !Array.isArray(meta.engines) ? meta.engines?.node : undefined;
  if (!path || !range || !semver.validRange(range)) continue;
  if (!semver.subset(pkg.engines.node, range)) outside.push(`${path.replace(/^.*node_modules\//, '')}@${meta.version} needs node ${range}`);
}
t.same(outside, [], `every package supports all of ${pkg.engines.node} (else npm ci warns EBADENGINE)`);
