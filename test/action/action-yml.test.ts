// The action.yml files agree with the code: every input the code reads is declared (and vice versa),
// every input and output is documented, booleans have defaults, and runs points at existing bundles.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { readActionInputs, readLoginInputs, readVerifyInputs, type InputGetter } from '../../src/inputs.js';
import { readActionYaml } from './helpers/runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The input names a reader asks for, with values that satisfy its validation. */
function namesRead(reader: (get: InputGetter) => unknown): string[] {
  const names = new Set<string>();
  reader((name) => {
    names.add(name);
    return ({ username: 'u', password: 'p', push: 'false' } as Record<string, string>)[name] ?? '';
  });
  return [...names].sort();
}

const ACTIONS: { file: string; reader?: (get: InputGetter) => unknown; post: boolean }[] = [
  { file: 'action.yml', reader: readActionInputs, post: true },
  { file: 'verify/action.yml', reader: readVerifyInputs, post: false },
  { file: 'login/action.yml', reader: readLoginInputs, post: true },
  { file: 'conformance/action.yml', post: false },
];

for (const { file, reader, post } of ACTIONS) {
  t.test(file, async (t) => {
    const path = join(root, file);
    const yml = readActionYaml(path) as ReturnType<typeof readActionYaml> & {
      name?: string;
      description?: string;
      branding?: { icon?: string; color?: string };
      inputs: Record<string, { description?: string; default?: string; required?: boolean }>;
      outputs?: Record<string, { description?: string }>;
      runs: { using: string; main: string; post?: string; 'post-if'?: string };
    };
    t.ok(yml.name && yml.description, 'name and description');
    t.ok(yml.branding?.icon && yml.branding.color, 'branding');
    t.equal(yml.runs.using, 'node24');
    t.ok(existsSync(join(dirname(path), yml.runs.main)), `main bundle ${yml.runs.main} exists`);
    if (post) {
      t.equal(yml.runs.post, yml.runs.main, 'post runs the same bundle');
      t.equal(yml.runs['post-if'], 'always()', 'post runs even after a failure');
    }
    for (const [name, spec] of Object.entries(yml.inputs)) {
      t.ok(spec.description && spec.description.length > 10, `input ${name} is documented`);
      t.ok(spec.default !== undefined || spec.required === true, `input ${name} has a default or is required`);
      if (spec.default === 'true' || spec.default === 'false') t.pass(`boolean ${name} defaults to ${spec.default}`);
    }
    for (const [name, spec] of Object.entries(yml.outputs ?? {})) t.ok(spec.description, `output ${name} is documented`);
    if (reader) t.same(namesRead(reader), Object.keys(yml.inputs).sort(), 'the code reads exactly the declared inputs');
    if (file !== 'conformance/action.yml') t.ok('ca-cert' in yml.inputs, 'a private CA can be given (ca-cert)');
  });
}

t.test('login/ declares no insecure input: plain HTTP for docker login is the daemon\'s rule, nothing the action passes', async (t) => {
  const yml = readActionYaml(join(root, 'login/action.yml')) as { inputs: Record<string, unknown> };
  t.notOk('insecure' in yml.inputs);
  t.notOk('insecure' in readLoginInputs((n) => ({ username: 'u', password: 'p' })[n] ?? ''), 'and the parsed inputs carry none');
});

t.test('the oidc inputs are declared alike on the root action and the login/ and verify/ sub-actions', async (t) => {
  type Inputs = Record<string, { description?: string; default?: string; required?: boolean }>;
  const inputsOf = (file: string) => (readActionYaml(join(root, file)) as { inputs: Inputs }).inputs;
  const rootInputs = inputsOf('action.yml');
  for (const file of ['login/action.yml', 'verify/action.yml']) {
    const inputs = inputsOf(file);
    for (const name of ['oidc', 'oidc-audience']) {
      t.equal(inputs[name]?.default, rootInputs[name]?.default, `${file}: ${name} defaults as in action.yml`);
      t.notOk(inputs[name]?.required, `${file}: ${name} is optional`);
    }
    t.equal(inputs['oidc-audience']?.description, rootInputs['oidc-audience']?.description, `${file}: oidc-audience described as in action.yml`);
    // username/password cannot be required where the token may replace them.
    t.notOk(inputs.username?.required || inputs.password?.required, `${file}: username/password optional`);
  }
  t.equal(inputsOf('login/action.yml').oidc?.description, rootInputs.oidc?.description, 'login/: oidc described as in action.yml (both pass the token on stdin)');
});
