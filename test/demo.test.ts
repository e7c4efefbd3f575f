// The Quick start's first command runs the embedded demo; it must finish with every job processed.
import test from 'ava';
import { runTs } from './helpers/run-ts.js';
import { fileURLToPath } from 'node:url';

test('npm run demo: every enqueued job is processed on the embedded default, every shard used', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const { code, out, err } = await runTs('examples/quickstart.ts', [], { cwd: root });
  const output = out + err;
  t.is(code, 0, output);
  t.regex(output, /jobs not succeeded \(lost\): 0\n/);
  for (const tenant of ['acme', 'globex', 'initech', 'umbrella', 'hooli']) t.regex(output, new RegExp(`^${tenant} .* 400 +400$`, 'm'));
  for (const shard of ['mem-a', 'mem-b', 'mem-c']) t.regex(output, new RegExp(`(${shard} |@${shard})`), `${shard} hosts something`);
});
