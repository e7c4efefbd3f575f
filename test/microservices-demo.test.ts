// The microservices demo, run for real in each mode, checked by its summary.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { runTs } from './helpers/run-ts.js';
import { adminQuery, PG_URL, REDIS_URL } from './helpers/servers.js';
import { spawnGuarded } from './helpers/child.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = (args: string[]) => runTs('examples/microservices/demo.ts', args, { cwd: root });

test('embedded: every enqueued job processed, every shard used', async (t) => {
  const { code, out, err } = await demo(['--jobs', '400']);
  t.is(code, 0, out + err);
  t.regex(out, /embedded \(in-memory shards, one process\)/);
  t.regex(out, /enqueued 400, processed 400, not processed: 0\n/);
  t.regex(out, /tenants per shard: mem-a: \d+, mem-b: \d+, mem-c: \d+/);
  t.regex(out, /^megacorp .*reporting@mem-c/m, 'the split tenant has its reporting group on its own shard');
  t.regex(out, /^acme +mem-a /m, 'the pinned tenant is on its shard');
});

test('separate processes on Postgres and Redis: every enqueued job processed, both shards used', async (t) => {
  const namespace = `t_${randomBytes(5).toString('hex')}`;
  try {
    const { code, out, err } = await demo(['--postgres', PG_URL, '--redis', REDIS_URL, '--jobs', '300', '--namespace', namespace, '--keep-namespace', '1']);
    t.is(code, 0, out + err);
    t.regex(out, /separate processes \(api, mailer, reports\)/);
    t.regex(out, /enqueued 300, processed 300, not processed: 0\n/);
    t.regex(out, /tenants per shard: .*pg-1: [1-9].*redis-1: [1-9]/);
  } finally {
    await adminQuery(`DROP SCHEMA IF EXISTS ${namespace} CASCADE`);
    const r = new Redis(REDIS_URL);
    const keys = await r.keys(`${namespace}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  }
});

test("bad configuration ends with the library's clear error, not a stack trace", async (t) => {
  const unreachable = await demo(['--postgres', 'postgres://postgres@127.0.0.1:5999/test', '--jobs', '10']);
  t.is(unreachable.code, 1);
  t.regex(unreachable.err, /^demo: .*cannot reach Postgres at 127\.0\.0\.1:5999/m);
  t.notRegex(unreachable.err, /^\s+at /m, 'no stack trace');
  const unknownShard = await demo(['--pin', 'globex=pg-9', '--jobs', '10']);
  t.is(unknownShard.code, 1);
  t.regex(unknownShard.err, /^demo: .*tenants\.globex\.shard: unknown shard 'pg-9' \(known: mem-a, mem-b, mem-c\)/m);
  t.notRegex(unknownShard.err, /^\s+at /m, 'no stack trace');
  const badPin = await demo(['--pin', 'globex']);
  t.is(badPin.code, 1);
  t.regex(badPin.err, /^config: --pin takes tenant=shard, got 'globex'/m);
  const malformed = await demo(['--postgres']);
  t.is(malformed.code, 1);
  t.regex(malformed.err, /^config: expected --flag value pairs/m);
});

test('Ctrl-C (SIGINT) mid-run stops the demo gracefully with a summary', async (t) => {
  const child = spawnGuarded(process.execPath, ['--import', 'tsx', 'examples/microservices/demo.ts', '--jobs', '200000'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  // Interrupt once the table shows the run is under way.
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (/mem-a +\d+/.test(out)) {
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.is(code, 0, out);
  t.regex(out, /\(stopped early by Ctrl-C\)/);
  t.regex(out, /^acme +mem-a/m, 'the summary is printed');
});
