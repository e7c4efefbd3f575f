// Every TypeScript block in the README runs as written (with 'jobshard' resolved to this checkout).
import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTs } from './helpers/run-ts.js';
import { adminQuery, REDIS_URL } from './helpers/servers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = await readFile(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

test.after.always(async () => {
  // The examples name schema 'readme' and prefix 'readme:'; remove what they left.
  await adminQuery('DROP SCHEMA IF EXISTS readme CASCADE');
  await adminQuery('DROP SCHEMA IF EXISTS jobs_a CASCADE'); // the JSON map's shard, which holds its placement directory
  const { Redis } = await import('ioredis');
  const r = new Redis(REDIS_URL);
  const keys = await r.keys('readme:*');
  if (keys.length) await r.del(...keys);
  r.disconnect();
});

test('the README has code blocks to run', (t) => {
  t.true(blocks.length >= 3);
});

test('the README\'s JSON tenant map loads as written', async (t) => {
  const json = readme.match(/```json\n([\s\S]*?)```/)![1]!;
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-readme-'));
  await writeFile(join(dir, 'tenants.json'), json);
  const { createRouterFromFile } = await import('../src/router/router.js');
  const router = await createRouterFromFile(join(dir, 'tenants.json'));
  t.is(router.shardFor('acme').shard, 'pg-a');
  t.deepEqual(router.shardFor('acme').groups.map((g) => [g.group, g.shard]), [['heavy', 'redis-a']]);
  t.deepEqual([...router.shards.keys()], ['pg-a', 'redis-a', 'local']);
  await router.close();
});

for (const [i, code] of blocks.entries()) {
  test(`README block ${i + 1} runs as written`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'jobshard-readme-'));
    const file = join(dir, `block-${i + 1}.mts`); // .mts: ESM (top-level await) outside this package
    await writeFile(file, code.replaceAll("from 'jobshard'", `from '${join(root, 'src/index.ts')}'`));
    const { code: exit, out, err } = await runTs(file, [], { cwd: root, timeoutMs: 60_000 });
    const output = out + err;
    t.is(exit, 0, output);
  });
}
