// The operators' command line: `jobshard placement show|plan|move|rebalance|drain|resume --config`.
import test from 'ava';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRouterFromFile } from '../../src/router/router.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { spawnGuarded } from '../helpers/child.js';

const BIN = fileURLToPath(new URL('../../bin/jobshard.js', import.meta.url));

function cli(args: string[], as?: { uid: number; gid: number }): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawnGuarded(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('placement show, plan, move, rebalance, drain and resume; bad input is refused with a clear message and changes nothing', async (t) => {
  t.timeout(120_000);
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-cli-'));
  const schema = freshSchema(),
    directorySchema = freshSchema();
  const [pa, pb] = [freshPrefix(), freshPrefix()];
  const shards = [
    { id: 'a', backend: { redis: { url: REDIS_URL, prefix: pa } } },
    { id: 'b', backend: { postgres: { connectionString: PG_URL, schema, poolSize: 2 } } },
  ];
  const directory = { backend: { postgres: { connectionString: PG_URL, schema: directorySchema, poolSize: 2 } } };
  const two = join(dir, 'two.json'),
    three = join(dir, 'three.json');
  await writeFile(two, JSON.stringify({ shards, directory }));
  await writeFile(three, JSON.stringify({ shards: [...shards, { id: 'c', backend: { redis: { url: REDIS_URL, prefix: pb } } }], directory }));
  try {
    const router = await createRouterFromFile(two);
    const tenants = Array.from({ length: 12 }, () => freshTenant());
    for (const tn of tenants) await router.tenant(tn).jobs.create({ type: 'x', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true });
    const onA = tenants.find((tn) => router.shardFor(tn).shard === 'a')!;
    await router.close();

    const shown = await cli(['placement', 'show', '--config', two]);
    t.is(shown.code, 0, shown.err);
    t.regex(shown.out, /^epoch 1 /);
    t.regex(shown.out, /a\s+redis\s+1\s+active\s+8192/);
    t.regex(shown.out, /b\s+postgres\s+1\s+active\s+8192/);

    const moved = await cli(['placement', 'move', onA, 'b', '--config', two, '--copy-nice', '19']);
    t.is(moved.code, 0, moved.err);
    t.regex(moved.out, /^copy\s/m);
    // Progress counts jobs and items (a job, its queue entry, a structure: bench:moves reads both).
    t.regex(moved.out, /^cleanup\s+\S+\s+units 0\/1\s+jobs copied [1-9]\d*\s+items [1-9]\d*\s+nice/m);
    // The copy runs at --copy-nice, the freeze at the priority the mover started with, as the OS
    // reports them (os.getPriority in the mover); as root the mover may raise it back.
    const startNice = getPriority();
    t.regex(moved.out, /^copy .* nice 19$/m);
    t.regex(moved.out, /^catch-up .* nice 19$/m);
    if (process.getuid?.() === 0) t.regex(moved.out, new RegExp(`^frozen .* nice ${startNice}$`, 'm'));
    else t.regex(moved.out, /^frozen .* nice 19$|refused to raise/m);
    t.regex(moved.out, new RegExp(`done: ${onA} moved a -> b at epoch \\d+; 1 jobs, \\d+ items copied; writes paused \\d+ ms`));

    // Bad input: each refused with a message that says what is wrong, exit code 1 or 2, and the directory unchanged.
    const epochBefore = /^epoch (\d+)/.exec((await cli(['placement', 'show', '--config', two])).out)![1];
    const bad: Array<[string[], number, RegExp]> = [
      [['placement', 'move', onA, 'b', '--config', two], 1, /INVALID_ARGUMENT.*already on shard 'b'/],
      [['placement', 'move', onA, 'zz', '--config', two], 1, /unknown shard 'zz'/],
      [['placement', 'move', freshTenant(), 'b', '--config', two], 1, /unknown unit|already on shard/],
      [['placement', 'move', 'a:b:c', 'b', '--config', two], 1, /'tenant' or 'tenant:group'/],
      [['placement', 'move', onA, '--config', two], 2, /takes a unit and a target shard/],
      [['placement', 'move', '--slots', '5-2', 'b', '--config', two], 2, /runs backwards/],
      [['placement', 'move', '--slots', '99999', 'b', '--config', two], 1, /0 to 16383/],
      [['placement', 'move', onA, 'a', '--config', two, '--freeze-ms', 'soon'], 2, /--freeze-ms must be a whole number/],
      [['placement', 'move', onA, 'a', '--config', two, '--copy-share', '2'], 2, /--copy-share must be a number from 0.05 to 1/],
      [['placement', 'move', onA, 'a', '--config', two, '--copy-nice', '25'], 2, /--copy-nice must be a whole number from 0 to 19/],
      [['placement', 'move', onA, 'a', '--config', two, '--copy-nice', 'low'], 2, /--copy-nice must be a whole number/],
      [['placement', 'move', onA, 'a', '--config', two, '--copy-rate', '0'], 2, /--copy-rate must be a whole number of items a second, at least 1/],
      [['placement', 'move', onA, 'a', '--config', two, '--copy-rate', 'fast'], 2, /--copy-rate must be a whole number/],
      [['placement', 'teleport', '--config', two], 2, /unknown placement command 'teleport'/],
      [['placement', 'show'], 2, /--config <tenant-map.json> is required/],
      [['placement', 'show', '--config', join(dir, 'missing.json')], 1, /cannot read tenant map/],
      [['placement', 'drain', 'zz', '--config', two], 1, /unknown shard 'zz'/],
    ];
    for (const [args, code, message] of bad) {
      const r = await cli(args);
      t.is(r.code, code, args.join(' '));
      t.regex(r.err, message, args.join(' '));
    }
    t.is(/^epoch (\d+)/.exec((await cli(['placement', 'show', '--config', two])).out)![1], epochBefore);

    // A mover the OS does not let raise its priority back (an unprivileged user) says so, runs its
    // freeze at --copy-nice, and moves the unit all the same.
    if (process.getuid?.() === 0) {
      await chmod(dir, 0o755);
      const nobody = await cli(['placement', 'move', onA, 'a', '--config', two, '--copy-nice', '19'], { uid: 65534, gid: 65534 });
      t.is(nobody.code, 0, nobody.err);
      t.regex(nobody.out, /note: the OS refused to raise the mover's CPU priority back for the freeze; it runs at nice 19/);
      t.regex(nobody.out, /^frozen .* nice 19$/m);
      t.regex(nobody.out, new RegExp(`done: ${onA} moved b -> a`));
    } else t.pass();

    // By default the copy keeps the mover's priority; onA goes back to b.
    const back = await cli(['placement', 'move', onA, process.getuid?.() === 0 ? 'b' : 'a', '--config', two]);
    t.is(back.code, 0, back.err);
    t.regex(back.out, new RegExp(`^copy .* nice ${startNice}$`, 'm'));
    t.notRegex(back.out, /nice 19$/m);

    // A third shard joins (owning nothing); the plan shows what a rebalance moves; the rebalance moves it.
    const plan = await cli(['placement', 'plan', '--config', three]);
    t.is(plan.code, 0, plan.err);
    t.regex(plan.out, /c\s+0 slots, target\s+546[12]/);
    t.regex(plan.out, /-> c: \d+ empty slots \(a directory write\)/);
    const rebalanced = await cli(['placement', 'rebalance', '--config', three]);
    t.is(rebalanced.code, 0, rebalanced.err);
    t.regex(rebalanced.out, /done: \d+ units moved/);
    t.regex((await cli(['placement', 'show', '--config', three])).out, /c\s+redis\s+1\s+active\s+546[12]/);

    const drained = await cli(['placement', 'drain', 'a', '--config', three]);
    t.is(drained.code, 0, drained.err);
    t.regex(drained.out, /done: shard a drained/);
    t.regex((await cli(['placement', 'show', '--config', three])).out, /a\s+redis\s+1\s+draining\s+0\s+0/);
    const resumed = await cli(['placement', 'resume', '--config', three]);
    t.is(resumed.code, 0);
    t.regex(resumed.out, /no moves recorded/);

    // Every job is still there, on the shard the directory names.
    const after = await createRouterFromFile(three);
    for (const tn of tenants) t.is((await after.tenant(tn).monitoring.stateCounts())['Enqueued'], 1, tn);
    await after.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
    await dropSchema(directorySchema);
    await deleteRedisPrefix(pa);
    await deleteRedisPrefix(pb);
  }
});
