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
