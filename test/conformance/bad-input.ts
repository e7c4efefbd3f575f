import type { Harness, Test } from './harness.js';
import { enqueueJob, rejectsWithCode } from './helpers.js';

// A lone surrogate: Postgres and Redis store UTF-8, where it became U+FFFD (a queue stored under another name).
const BAD_NAMES: unknown[] = ['', 'x'.repeat(5000), 'bad\nname', 'nul\u0000', 42, null, undefined, 'lone\uD800', '\uDC00tail'];

export function badInputTests(test: Test, h: Harness): void {
  test(`${h.name} bad input: malformed names are refused with InvalidArgumentError and write nothing`, async (t) => {
    const s = await h.storage();
    for (const bad of BAD_NAMES) {
      const name = bad as string;
      await rejectsWithCode(t, s.jobs.create({ type: 't', args: [], queue: name }), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.jobs.create({ type: name, args: [], queue: 'q' }), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.queues.fetch([name]), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.locks.acquire(name, { timeoutMs: 0 }), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.data.hashGetAll(name), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.servers.announce(name, { queues: ['q'], workerCount: 1 }), 'INVALID_ARGUMENT');
      await rejectsWithCode(
        t,
        s.transaction((tx) => {
          tx.hashSet('written-before-the-bad-one', { a: '1' });
          tx.enqueue(name, '1');
        }),
        'INVALID_ARGUMENT',
      );
    }
    await rejectsWithCode(t, s.queues.fetch([]), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.queues.fetch(['a', 'a']), 'INVALID_ARGUMENT');
    t.is(await s.data.hashGetAll('written-before-the-bad-one'), null);
    t.deepEqual(await s.monitoring.queues(), []);
    t.deepEqual(await s.servers.list(), []);
    t.deepEqual(await s.monitoring.stateCounts(), {});
  });

  test(`${h.name} bad input: a bad first state or enqueue flag is refused and creates nothing`, async (t) => {
    const s = await h.storage();
    const bad: unknown[] = [
      { state: { name: '' } },
      { state: { name: 'x'.repeat(5000) } },
      { state: 'Enqueued' },
      { state: null },
      { state: { name: 'Enqueued', data: { n: 1 } } },
      { state: { name: 'Enqueued', reason: 7 } },
      { enqueue: 'yes' },
      { enqueue: 1 },
    ];
    for (const extra of bad) {
      await rejectsWithCode(
        t,
        s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true, ...(extra as object) }),
        'INVALID_ARGUMENT',
      );
    }
    t.deepEqual(await s.monitoring.queues(), []);
    t.deepEqual(await s.monitoring.stateCounts(), {});
  });

  test(`${h.name} bad input: arguments JSON cannot represent exactly are refused`, async (t) => {
    const s = await h.storage();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad: unknown[] = [
      [() => 1],
      [Symbol('s')],
      [10n],
      [undefined],
      [NaN],
      [Infinity],
      [new Date()],
      [new Map()],
      [cyclic],
      [{ nested: [1, { f: () => 2 }] }],
      'not-an-array',
      { 0: 'x' },
    ];
    for (const args of bad) {
      await rejectsWithCode(t, s.jobs.create({ type: 't', args: args as never, queue: 'q' }), 'INVALID_ARGUMENT');
    }
    const err = await rejectsWithCode(t, s.jobs.create({ type: 't', args: [{ a: { b: [0, NaN] } }], queue: 'q' }), 'INVALID_ARGUMENT');
    t.regex(err.message, /args\[0\]\.a\.b\[1\]/, 'the message points at the bad value');
    t.deepEqual(await s.monitoring.queues(), []);
  });

  test(`${h.name} bad input: a payload over the size limit is refused with PayloadTooLargeError`, async (t) => {
    const s = await h.storage();
    const err = await rejectsWithCode(t, s.jobs.create({ type: 't', args: ['x'.repeat(600 * 1024)], queue: 'q' }), 'PAYLOAD_TOO_LARGE');
    t.regex(err.message, /bytes/);
    const ok = await s.jobs.create({ type: 't', args: ['x'.repeat(100 * 1024)], queue: 'q' });
    t.is(((await s.jobs.get(ok)).args[0] as string).length, 100 * 1024);
  });

  test(`${h.name} bad input: negative or non-integer durations and bad ranges are refused`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'q');
    await rejectsWithCode(t, s.queues.fetch(['q'], { invisibilityTimeoutMs: -1 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.queues.fetch(['q'], { invisibilityTimeoutMs: 1.5 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.queues.fetch(['q'], { withJob: 'yes' as never }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.queues.tryFetch(['q'], { withJob: 1 as never }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.locks.acquire('r', { timeoutMs: -5 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.locks.acquire('r', { timeoutMs: 0, ttlMs: -1 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.servers.removeTimedOut(-1), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: -10 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.expireJob(id, -1)),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.expire('hash', 'h', Number.NaN)),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.expire('bogus' as never, 'h', 10)),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.setAdd('z', 'm', Infinity)),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(t, s.data.setFirstByScore('z', 5, 1), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.data.setRange('z', -2, 3), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, s.monitoring.jobsInState('Succeeded', { limit: 0 }), 'INVALID_ARGUMENT');
    const f = await s.queues.fetch(['q']);
    await rejectsWithCode(t, f.extend(-3), 'INVALID_ARGUMENT');
    await f.ack();
    t.is((await s.jobs.get(id)).expireAt, null, 'the refused expireJob wrote nothing');
  });

  test(`${h.name} bad input: quotes, semicolons and SQL or Lua in names and values are stored as data`, async (t) => {
    const s = await h.storage();
    const nasty = [`q'; DROP TABLE jobs; --`, `"quoted"`, `a\\b`, `{tag}:x`, `%_*?[]`, `ünïcødé-名前-🚀`, `') OR 1=1 --`, `]]..redis.call('FLUSHALL')..[[`];
    for (const name of nasty) {
      const id = await enqueueJob(s, name, name, [name]);
      await s.jobs.setParameter(id, name, name);
      await s.transaction((tx) => {
        tx.hashSet(name, { [name]: name });
        tx.setAdd(name, name, 1);
        tx.listInsert(name, name);
        tx.counterIncrement(name, 2);
      });
      const f = await s.queues.fetch([name]);
      t.is(f.jobId, id);
      t.is(f.queue, name);
      const job = await s.jobs.get(id);
      t.is(job.type, name);
      t.deepEqual(job.args, [name]);
      t.is(await s.jobs.getParameter(id, name), name);
      t.deepEqual(await s.data.hashGetAll(name), { [name]: name });
      t.deepEqual(await s.data.setAll(name), [name]);
      t.deepEqual(await s.data.listAll(name), [name]);
      t.is(await s.data.counterGet(name), 2);
      const lock = await s.locks.acquire(name, { timeoutMs: 0 });
      await lock.release();
      await f.ack();
    }
    t.deepEqual(await s.monitoring.queues(), []);
  });

  test(`${h.name} bad input: strings that are not valid Unicode and arguments nested too deep are refused, typed, and write nothing`, async (t) => {
    const s = await h.storage();
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.hashSet('h', { f: 'lone \uD800 value' })),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.listInsert('l', '\uDFFF')),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(
      t,
      s.transaction((tx) => tx.setAdd('z', 'm\uD800', 1)),
      'INVALID_ARGUMENT',
    );
    await rejectsWithCode(t, s.jobs.create({ type: 't', args: [], queue: 'q', parameters: { p: '\uD800' } }), 'INVALID_ARGUMENT');
    // Found by the fuzz tests: 5,000 levels overflowed the checker's stack with an untyped RangeError.
    const deep = Array.from({ length: 5_000 }, () => 0).reduce<unknown>((inner) => [inner], 'x');
    await rejectsWithCode(t, s.jobs.create({ type: 't', args: [deep as never], queue: 'q' }), 'INVALID_ARGUMENT');
    // Arguments are JSON: a lone surrogate inside them survives as JSON's escape, read back exactly.
    const id = await s.jobs.create({ type: 't', args: ['lone \uD800 arg'], queue: 'q' });
    t.deepEqual((await s.jobs.get(id)).args, ['lone \uD800 arg']);
    t.is(await s.data.hashGetAll('h'), null);
    t.deepEqual(await s.data.listAll('l'), []);
    t.deepEqual(await s.data.setAll('z'), []);
    t.deepEqual(await s.monitoring.stateCounts(), {});
  });
}
