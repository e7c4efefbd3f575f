// What a Redis restart keeps, with and without AOF, measured on private servers killed with
// SIGKILL; and the warning a process gives, once, when its Redis runs without AOF.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { spawnGuarded } from '../helpers/child.js';

async function enqueued(url: string, n: number): Promise<RedisBackend> {
  const backend = new RedisBackend({ url, prefix: 'durable:' });
  const client = new JobClient(backend.storage('acme'));
  for (let i = 0; i < n; i++) await client.enqueue('x', [i], { queue: 'q' });
  return backend;
}

async function survivors(url: string): Promise<number> {
  const backend = new RedisBackend({ url, prefix: 'durable:' });
  const n = (await backend.storage('acme').monitoring.stateCounts())['Enqueued'] ?? 0;
  await backend.close();
  return n;
}

test('a restart without AOF loses every job; with appendfsync everysec, none written a second before the crash', async (t) => {
  for (const [aof, expected] of [
    [undefined, 0],
    ['everysec', 200],
  ] as const) {
    const redis = new PrivateRedis(await freePort(), aof ? { aof } : {});
    await redis.start();
    try {
      const backend = await enqueued(redis.url, 200);
      await new Promise((r) => setTimeout(r, 1_500)); // past everysec's fsync
      await redis.kill(); // a crash: no shutdown, no save
      await backend.close();
      await redis.start();
      t.is(await survivors(redis.url), expected, `appendonly ${aof ?? 'no'}`);
    } finally {
      await redis.kill();
      redis.cleanup();
    }
  }
});

function openIn(url: string): Promise<{ code: number | null; err: string }> {
  const env = { ...process.env };
  delete env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF']; // set for the test suite, whose servers keep nothing
  return new Promise((resolve) => {
    const child = spawnGuarded(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/open-redis.ts', import.meta.url)), url], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, err }));
  });
}

test('a process warns once when its Redis runs without AOF, and not when AOF is on', async (t) => {
  const plain = new PrivateRedis(await freePort());
  const durable = new PrivateRedis(await freePort(), { aof: 'everysec' });
  await plain.start();
  await durable.start();
  try {
    const without = await openIn(plain.url);
    t.is(without.code, 0, without.err);
    t.is(without.err.match(/JOBSHARD_REDIS_WITHOUT_AOF/g)?.length, 1, without.err);
    t.regex(without.err, /runs without AOF \(appendonly no\)/);
    const withAof = await openIn(durable.url);
    t.is(withAof.code, 0, withAof.err);
    t.notRegex(withAof.err, /JOBSHARD_REDIS_WITHOUT_AOF/);
  } finally {
    await plain.kill();
    await durable.kill();
    durable.cleanup();
  }
});
