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
  const changes = async () => {
    countReads++;
    if (countsDown) throw new Error('shard down');
    return String(count);
  };
  const cache = new PauseCache(() => tenant.storage, 100, changes);
  const queues = ['a', 'b'];
  t.deepEqual(await cache.queuesFor('tenant', queues), queues);
  await tenant.storage.transaction((tx) => tx.hashSet(PAUSED_HASH, { a: '1' }));
  // A pause written without its count moving is not seen: the count is what servers trust.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 150));
    t.deepEqual(await cache.queuesFor('tenant', queues), queues);
  }
  t.is(tenant.reads(), 1, 'one read over four TTLs while the count stood still');
  t.true(countReads >= 3, `the counts were read once per TTL (${countReads})`);

  count++;
  await new Promise((r) => setTimeout(r, 150));
  const after = await Promise.all(Array.from({ length: 8 }, () => cache.queuesFor('tenant', queues)));
  t.is(tenant.reads(), 2, 'read again once the count moved, once for 8 callers');
  for (const q of after) t.deepEqual(q, ['b']);

  countsDown = true;
  await tenant.storage.transaction((tx) => tx.hashSet(PAUSED_HASH, { a: '0', b: '1' }));
  await new Promise((r) => setTimeout(r, 150));
  t.deepEqual(await cache.queuesFor('tenant', queues), ['a'], 'counts unreadable: the tenant is read again');
  t.is(tenant.reads(), 3);
  countsDown = false;
  await new Promise((r) => setTimeout(r, 150));
  t.deepEqual(await cache.queuesFor('tenant', queues), ['a']);
  t.is(tenant.reads(), 4, 'the first count read after a failure starts afresh');
  await backend.close();
});
