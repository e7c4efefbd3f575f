// The API reference builds from the TSDoc comments, and every public export has one: TypeDoc's
// own validation (typedoc.json: notDocumented, invalidLink, warnings as errors) fails otherwise.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { spawnGuarded } from '../helpers/child.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('npm run docs: every public export is documented and every link resolves', async (t) => {
  const typedoc = fileURLToPath(new URL('../../node_modules/typedoc/bin/typedoc', import.meta.url));
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawnGuarded(process.execPath, [typedoc, '--emit', 'none'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (c) => resolve({ code: c, output }));
  });
  t.is(code, 0, output);
  t.notRegex(output, /does not have any documentation/);
});
