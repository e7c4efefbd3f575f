// Every TypeScript block in the README and in the guides (docs/*.md) runs as written (with
// 'jobshard' resolved to this checkout). docs/dashboard.md's blocks start servers: its own test
// (test/dashboard/docs.test.ts) runs them.
import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTs } from './helpers/run-ts.js';
import { adminQuery, REDIS_URL } from './helpers/servers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const guides = (await readdir(join(root, 'docs')))
  .filter((f) => f.endsWith('.md') && f !== 'dashboard.md')
  .sort()
  .map((f) => `docs/${f}`);
const pages = ['README.md', ...guides];
const blocks: Array<{ page: string; n: number; code: string }> = [];
for (const page of pages) {
  const text = await readFile(join(root, page), 'utf8');
  [...text.matchAll(/```ts\n([\s\S]*?)```/g)].forEach((m, i) => blocks.push({ page, n: i + 1, code: m[1]! }));
}
// Inside the checkout, so that packages the snippets import (OpenTelemetry's SDK) resolve from its node_modules.
const dir = join(root, 'node_modules', '.cache', 'jobshard-guides');

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

test('the README and the guides have code blocks to run', (t) => {
  t.true(blocks.filter((b) => b.page === 'README.md').length >= 3);
  for (const guide of [
    'docs/getting-started.md',
    'docs/processing.md',
    'docs/placement.md',
    'docs/storage-contract.md',
    'docs/backends.md',
    'docs/metrics.md',
    'docs/operations.md',
  ])
    t.true(
      blocks.some((b) => b.page === guide),
      guide,
    );
});

test('the README stays short: at most 8 KB, no history of past runs', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  t.true(Buffer.byteLength(readme) <= 8 * 1024, `${Buffer.byteLength(readme)} bytes`);
  t.false(/\| run \|/.test(readme), 'the history of runs belongs in bench/RESULTS.md');
});

test('every relative link of the README and the guides points at a file that exists', async (t) => {
  const { existsSync } = await import('node:fs');
  for (const page of [...pages, 'docs/dashboard.md']) {
    const text = await readFile(join(root, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.startsWith('docs/api/')) continue; // web links; the generated API reference
      t.true(existsSync(join(root, page, '..', target!)), `${page} links to ${target}`);
    }
  }
});

test("docs/placement.md's JSON tenant map loads as written", async (t) => {
  const page = await readFile(join(root, 'docs/placement.md'), 'utf8');
  const json = page.match(/```json\n([\s\S]*?)```/)![1]!;
  const tmp = await mkdtemp(join(tmpdir(), 'jobshard-guide-'));
  await writeFile(join(tmp, 'tenants.json'), json);
  const { createRouterFromFile } = await import('../src/router/router.js');
  const router = await createRouterFromFile(join(tmp, 'tenants.json'));
  t.is(router.shardFor('acme').shard, 'pg-a');
  t.deepEqual(
    router.shardFor('acme').groups.map((g) => [g.group, g.shard]),
    [['heavy', 'redis-a']],
  );
  t.deepEqual([...router.shards.keys()], ['pg-a', 'redis-a', 'local']);
  await router.close();
});

for (const { page, n, code } of blocks) {
  test(`${page} block ${n} runs as written`, async (t) => {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${page.replace(/[/.]/g, '-')}-${n}.mts`); // .mts: ESM (top-level await)
    await writeFile(file, code.replaceAll("from 'jobshard'", `from '${join(root, 'src/index.ts')}'`));
    const { code: exit, out, err } = await runTs(file, [], { cwd: root, timeoutMs: 60_000 });
    t.is(exit, 0, out + err);
  });
}
