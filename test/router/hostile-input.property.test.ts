// Bad input, fuzzed: random and hostile values (SQL and Lua metacharacters, lone surrogates,
// __proto__, deep nesting, huge strings, control characters) thrown at the public entries, through
// a router over memory, Postgres and Redis shards. Each value is refused with a typed error, or
// stored and read back exactly; nothing is half-written, no other tenant's data changes, and
// nothing but a typed error ever comes out.
import test from 'ava';
import fc from 'fast-check';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter, createRouterFromFile } from '../../src/router/router.js';
import { isJobshardError } from '../../src/storage/errors.js';
import type { Storage } from '../../src/storage/storage.js';
import { mixedRouter } from '../helpers/mixed-router.js';

// Pinned one per shard kind, so every property meets every backend.
const TENANTS = { mem: 'fuzz-mem', pg: 'fuzz-pg', redis: 'fuzz-redis' } as const;
const CANARY = { mem: 'canary-mem', pg: 'canary-pg', redis: 'canary-redis' } as const;
const { router, cleanup } = mixedRouter({
  [TENANTS.mem]: { shard: 'mem' },
  [TENANTS.pg]: { shard: 'pg' },
  [TENANTS.redis]: { shard: 'redis' },
  [CANARY.mem]: { shard: 'mem' },
  [CANARY.pg]: { shard: 'pg' },
  [CANARY.redis]: { shard: 'redis' },
});
test.after.always(cleanup);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40);

/** What SQL, Lua patterns, Redis key globs, hash tags and JSON treat specially. */
const META = [
  "'",
  '"',
  ';',
  '--',
  '/*',
  '*/',
  '$1',
  '%',
  '_',
  '\\',
  '[[',
  ']]',
  '..',
  '{',
  '}',
  '{x}',
  '*',
  '?',
  '[a-z]',
  ':',
  '/',
  '#',
  '\u0000',
  '\u001f',
  '\n',
  '\r\n',
  '\t',
  '\u007f',
  '\u2028',
  '\uFEFF',
  '\uD800',
  '\uDFFF',
  '💥',
  '__proto__',
  'constructor',
  'prototype',
  "'); DROP TABLE jobs; --",
  "') OR 1=1 --",
  "redis.call('FLUSHALL')",
  ']] .. redis.call("FLUSHALL") .. [[',
  '%s%d%n',
  '${x}',
  '\\u0000',
];
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...META), { minLength: 1, maxLength: 6 }).map((xs) => xs.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'x'.repeat(201), 'y'.repeat(600), 'z'.repeat(2_100)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }) },
);

/** Runs `act`: a typed error passes (and is returned), any other error fails the property. */
async function typedOrOk<T>(act: () => Promise<T> | T): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await act() };
  } catch (err) {
    if (isJobshardError(err)) return { ok: false, code: err.code };
    throw new Error(`an untyped error escaped: ${String((err as Error)?.stack ?? err)}`, { cause: err });
  }
}

const storages = (): Array<[string, Storage]> => Object.values(TENANTS).map((t) => [t, router.tenant(t)]);

/** Every canary's content, to compare before and after: nothing any input does may change it. */
async function canaries(): Promise<string> {
  const out: unknown[] = [];
  for (const t of Object.values(CANARY)) {
    const s = router.tenant(t);
    out.push(
      t,
      await s.monitoring.stateCounts(),
      await s.data.hashGetAll('h'),
      await s.data.counterGet('c'),
      (await s.monitoring.queues()).map((q) => [q.name, q.waiting]),
    );
  }
  return JSON.stringify(out);
}

test.before(async () => {
  await router.open();
  for (const t of Object.values(CANARY)) {
    const s = router.tenant(t);
    await new JobClient(s).enqueue('canary', ['untouched'], { queue: 'default' });
    await s.transaction((tx) => {
      tx.hashSet('h', { f: 'v' });
      tx.counterIncrement('c', 7);
    });
  }
});

test.serial('tenant ids: valid ones are accepted, every other one is refused with INVALID_ARGUMENT', async (t) => {
  const before = await canaries();
  await fc.assert(
    fc.asyncProperty(hostileString, async (id) => {
      const r = await typedOrOk(async () => {
        const s = router.tenant(id);
        return s.jobs.create({ type: 'x', args: [], queue: 'q' });
      });
      const valid = /^[A-Za-z0-9_-]{1,64}$/.test(id);
      if (r.ok !== valid) return false;
      return r.ok || r.code === 'INVALID_ARGUMENT';
    }),
    { numRuns: RUNS * 3 },
  );
  t.is(await canaries(), before);
});

test.serial('queue names: refused with INVALID_ARGUMENT and nothing written, or the job is fetched from that queue', async (t) => {
  const before = await canaries();
  await fc.assert(
    fc.asyncProperty(hostileString, fc.constantFrom(...storages()), async (queue, [, s]) => {
      const counts = JSON.stringify(await s.monitoring.stateCounts());
      const r = await typedOrOk(() => new JobClient(s).enqueue('x', [queue], { queue }));
      if (!r.ok) return r.code === 'INVALID_ARGUMENT' && JSON.stringify(await s.monitoring.stateCounts()) === counts;
      const f = await s.queues.tryFetch([queue], { withJob: true });
      if (!f || f.jobId !== r.value || f.queue !== queue || f.job?.args[0] !== queue) return false;
      await f.ack();
      return true;
    }),
    { numRuns: RUNS },
  );
  t.is(await canaries(), before);
});

/** JSON values with the hostile strings, and the shapes that break naive code. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 4 }),
  fc.array(hostileString, { maxLength: 4 }),
  fc.constantFrom(
    JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as unknown,
    { toString: 'x', valueOf: 'y', hasOwnProperty: 'z' },
    '\uD800 lone',
    -0,
    1e308,
    Number.MAX_SAFE_INTEGER,
    Array.from({ length: 50 }, () => 0).reduce<unknown>((inner) => [inner], 'deep'),
  ),
);

test.serial('job arguments: stored and read back exactly (through JSON), or refused with a typed error and nothing written', async (t) => {
  const before = await canaries();
  await fc.assert(
    fc.asyncProperty(hostileJson, fc.constantFrom(...storages()), async (arg, [, s]) => {
      const counts = JSON.stringify(await s.monitoring.stateCounts());
      const r = await typedOrOk(() => new JobClient(s).enqueue('x', [arg], { queue: 'args' }));
      if (!r.ok) return ['INVALID_ARGUMENT', 'PAYLOAD_TOO_LARGE'].includes(r.code) && JSON.stringify(await s.monitoring.stateCounts()) === counts;
      const job = await s.jobs.get(r.value);
      const f = await s.queues.tryFetch(['args']);
      await f?.ack();
      // Byte for byte what JSON makes of it (-0 is JSON's 0).
      return JSON.stringify(job.args) === JSON.stringify([arg]) && ({} as Record<string, unknown>)['polluted'] === undefined;
    }),
    { numRuns: RUNS },
  );
  // Too deep or too big: refused, typed.
  for (const [, s] of storages()) {
    const deep = Array.from({ length: 5_000 }, () => 0).reduce<unknown>((inner) => [inner], 'deep');
    const r1 = await typedOrOk(() => new JobClient(s).enqueue('x', [deep], { queue: 'args' }));
    t.true(r1.ok || r1.code === 'INVALID_ARGUMENT', JSON.stringify(r1).slice(0, 200));
    const r2 = await typedOrOk(() => new JobClient(s).enqueue('x', ['x'.repeat(600 * 1024)], { queue: 'args' }));
    t.deepEqual(r2, { ok: false, code: 'PAYLOAD_TOO_LARGE' });
    const r3 = await typedOrOk(() => new JobClient(s).enqueue('x', [Number.NaN as never], { queue: 'args' }));
    t.deepEqual(r3, { ok: false, code: 'INVALID_ARGUMENT' });
    const r4 = await typedOrOk(() => new JobClient(s).enqueue('x', [{ f: () => 1 } as never], { queue: 'args' }));
    t.deepEqual(r4, { ok: false, code: 'INVALID_ARGUMENT' });
  }
  t.is(await canaries(), before);
});

test.serial('data keys, fields, members and values: stored and read back exactly, or refused typed with nothing written', async (t) => {
  const before = await canaries();
  await fc.assert(
    fc.asyncProperty(hostileString, hostileString, hostileString, fc.constantFrom(...storages()), async (key, field, value, [, s]) => {
      const snapshot = async () => {
        const readable = await typedOrOk(() => s.data.hashGetAll(key));
        if (!readable.ok) return null;
        return JSON.stringify([readable.value, await s.data.setAll(key), await s.data.listAll(key), await s.data.counterGet(key)]);
      };
      const before = await snapshot();
      const r = await typedOrOk(() =>
        s.transaction((tx) => {
          tx.hashSet(key, { [field]: value });
          tx.setAdd(key, field, 1.5);
          tx.listInsert(key, value);
          tx.counterIncrement(key, 3);
        }),
      );
      // All or nothing: a refused transaction wrote none of its four writes.
      if (!r.ok) return r.code === 'INVALID_ARGUMENT' && (await snapshot()) === before;
      const ok =
        (await s.data.hashGet(key, field)) === value &&
        (await s.data.setScore(key, field)) === 1.5 &&
        (await s.data.listRange(key, 0, 0))[0] === value &&
        (await s.data.counterGet(key)) >= 3;
      await s.transaction((tx) => {
        tx.hashDelete(key);
        tx.setDelete(key);
        tx.listDelete(key);
      });
      return ok;
    }),
    { numRuns: RUNS },
  );
  t.is(await canaries(), before);
});

test.serial('lock resources: granted and released, or refused typed', async (t) => {
  await fc.assert(
    fc.asyncProperty(hostileString, fc.constantFrom(...storages()), async (resource, [, s]) => {
      const r = await typedOrOk(() => s.locks.acquire(resource, { timeoutMs: 0, ttlMs: 5_000 }));
      if (!r.ok) return r.code === 'INVALID_ARGUMENT';
      const second = await typedOrOk(() => s.locks.acquire(resource, { timeoutMs: 0, ttlMs: 5_000 }));
      await r.value.release();
      return !second.ok && second.code === 'LOCK_TIMEOUT';
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test.serial('config: random and hostile tenant maps are refused with CONFIG_INVALID (or accepted), from code and from a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-fuzz-'));
  const shardLike = fc.record({
    id: hostileString,
    backend: fc.oneof(fc.constant({ memory: {} }), fc.jsonValue({ maxDepth: 2 })),
    weight: fc.oneof(fc.double(), fc.constant(undefined)),
  });
  const mapLike = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ shards: fc.array(shardLike, { maxLength: 3 }), tenants: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) }),
  );
  let n = 0;
  await fc.assert(
    fc.asyncProperty(mapLike, async (map) => {
      const fromCode = await typedOrOk(async () => {
        const shards = Array.isArray((map as { shards?: unknown })?.shards)
          ? (map as { shards: Array<{ id: unknown; weight?: unknown }> }).shards.map((s) => ({ ...s, backend: new MemoryBackend() }))
          : (map as { shards?: unknown })?.shards;
        const r = await createRouter({ ...(map as object), shards } as never);
        await r.close();
      });
      if (!fromCode.ok && !['CONFIG_INVALID', 'INVALID_ARGUMENT'].includes(fromCode.code)) return false;
      const file = join(dir, `map-${n++}.json`);
      await writeFile(file, JSON.stringify(map) ?? 'null');
      const fromFile = await typedOrOk(async () => (await createRouterFromFile(file)).close());
      return fromFile.ok || ['CONFIG_INVALID', 'INVALID_ARGUMENT'].includes(fromFile.code);
    }),
    { numRuns: RUNS },
  );
  // Not JSON at all.
  await writeFile(join(dir, 'broken.json'), '{"shards": [');
  const broken = await typedOrOk(() => createRouterFromFile(join(dir, 'broken.json')));
  t.deepEqual(broken, { ok: false, code: 'CONFIG_INVALID' });
});
