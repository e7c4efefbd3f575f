import test from 'ava';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PauseCache } from '../../src/processing/pause-cache.js';
import { PAUSED_HASH } from '../../src/storage/pauses.js';
import type { Storage } from '../../src/storage/storage.js';

/** A tenant's storage whose pause reads are counted. */
function counted(storage: Storage): { storage: Storage; reads: () => number } {
  let reads = 0;
  const data = new Proxy(storage.data, {
    get: (target, key, receiver) => {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== 'hashGetAll' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        reads++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { storage: { ...storage, data }, reads: () => reads };
}

test("the workers starting a tenant's turn together share one pause read; the next read comes after the TTL, and sees a new pause", async (t) => {
  const backend = new MemoryBackend();
  const tenant = counted(backend.storage('tenant'));
  const cache = new PauseCache(() => tenant.storage, 1_000);
  const queues = ['a', 'b'];
  const got = await Promise.all(Array.from({ length: 16 }, () => cache.queuesFor('tenant', queues)));
  t.is(tenant.reads(), 1, '16 concurrent calls, one read');
  for (const q of got) t.deepEqual(q, queues);

  await tenant.storage.transaction((tx) => tx.hashSet(PAUSED_HASH, { a: '1' }));
  t.deepEqual(await cache.queuesFor('tenant', queues), queues, 'within the TTL, the cached read');
  t.is(tenant.reads(), 1);
  await new Promise((r) => setTimeout(r, 1_100));
  const after = await Promise.all(Array.from({ length: 8 }, () => cache.queuesFor('tenant', queues)));
  t.is(tenant.reads(), 2);
  for (const q of after) t.deepEqual(q, ['b'], 'the paused queue is left out');
  await backend.close();
});

test('a failed pause read is not cached: the next call reads again', async (t) => {
  const backend = new MemoryBackend();
  const tenant = counted(backend.storage('tenant'));
  let fail = true;
  const cache = new PauseCache(() => {
    if (!fail) return tenant.storage;
    return { ...tenant.storage, data: { ...tenant.storage.data, hashGetAll: () => Promise.reject(new Error('shard down')) } } as Storage;
  }, 60_000);
  await t.throwsAsync(cache.queuesFor('tenant', ['a']), { message: 'shard down' });
  fail = false;
  t.deepEqual(await cache.queuesFor('tenant', ['a']), ['a']);
  t.is(tenant.reads(), 1);
  await backend.close();
});

test('with counts of pause changes: a read is trusted past the TTL while no count moves, read again once one does; counts that cannot be read fall back to the TTL', async (t) => {
  const backend = new MemoryBackend();
  const tenant = counted(backend.storage('tenant'));
  let count = 0;
  let countsDown = false;
  let countReads = 0;
  const read = async () => {
    countReads++;
    if (countsDown) throw new Error('shard down');
    return count;
  };
  const TTL = 300;
  const cache = new PauseCache(
    () => tenant.storage,
    TTL,
    () => [[backend, read]],
  );
  const queues = ['a', 'b'];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Calls every 50 ms (as busy workers do, so the counts are read each TTL) until `done` or `ms`; the last answer. */
  const callUntil = async (done: (q: readonly string[]) => boolean, ms: number) => {
    let q = await cache.queuesFor('tenant', queues);
    for (const until = Date.now() + ms; !done(q) && Date.now() < until; q = await cache.queuesFor('tenant', queues)) await sleep(50);
    return q;
  };
  t.deepEqual(await cache.queuesFor('tenant', queues), queues);
  // The first count read clears what was read before it: one more tenant read, then none.
  await sleep(20);
  t.deepEqual(await cache.queuesFor('tenant', queues), queues);
  t.is(tenant.reads(), 2);
  await tenant.storage.transaction((tx) => tx.hashSet(PAUSED_HASH, { a: '1' }));
  // A pause written without its count moving is not seen: the count is what servers trust.
  t.deepEqual(await callUntil(() => false, 4 * TTL), queues);
  t.is(tenant.reads(), 2, 'no read over four TTLs while the count stood still');
  t.true(countReads >= 3, `the counts were read once per TTL (${countReads})`);

  count++;
  // Seen by the first count read sent after the change; the next call reads the tenant again.
  t.deepEqual(await callUntil((q) => q.length === 1, 3_000), ['b'], 'the paused queue is left out once the count moved');
  const reads = tenant.reads();
  const after = await Promise.all(Array.from({ length: 8 }, () => cache.queuesFor('tenant', queues)));
  for (const q of after) t.deepEqual(q, ['b']);
  t.is(tenant.reads(), reads, '8 callers, no further read');

  countsDown = true;
  await tenant.storage.transaction((tx) => tx.hashSet(PAUSED_HASH, { a: '0', b: '1' }));
  t.deepEqual(await callUntil((q) => q[0] === 'a', 3_000), ['a'], 'counts unreadable: the tenant is read again after the TTL');
  await backend.close();
});

test('a count that never answers, or throws at once, holds up no caller', async (t) => {
  const backend = new MemoryBackend();
  const tenant = counted(backend.storage('tenant'));
  const stalled = () => new Promise<number>(() => {});
  const cache = new PauseCache(
    () => tenant.storage,
    50,
    () => [
      [{}, stalled],
      [{}, async () => 0],
      [
        {},
        () => {
          throw new Error('closed');
        },
      ],
    ],
  );
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    t.deepEqual(await cache.queuesFor('tenant', ['a']), ['a']);
    t.true(performance.now() - t0 < 50, 'answered without waiting for the counts');
    await new Promise((r) => setTimeout(r, 60));
  }
  await backend.close();
});
