// Property: whatever operations many tenants perform on shared shards (memory, Postgres, Redis),
// with the same keys, queues and lock names, no read of one tenant ever returns another's data,
// and no tenant can reach another's job through its id.
import test from 'ava';
import fc from 'fast-check';
import { enqueueJob, fetchOrNull } from '../conformance/helpers.js';
import { freshTenant, mixedRouter } from '../helpers/mixed-router.js';

const { router, cleanup } = mixedRouter();
test.after.always(cleanup);

type Op =
  | { kind: 'job'; who: number; queue: string }
  | { kind: 'hash' | 'set' | 'list' | 'counter'; who: number; key: string }
  | { kind: 'fetch'; who: number; queue: string }
  | { kind: 'lock'; who: number; key: string }
  | { kind: 'peek'; who: number; victim: number };

const KEYS = ['k1', 'k2', 'shared'];
const QUEUES = ['default', 'mail', 'shared'];
const op = (tenants: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('job' as const), who: fc.nat(tenants - 1), queue: fc.constantFrom(...QUEUES) }),
    fc.record({
      kind: fc.constantFrom('hash' as const, 'set' as const, 'list' as const, 'counter' as const),
      who: fc.nat(tenants - 1),
      key: fc.constantFrom(...KEYS),
    }),
    fc.record({ kind: fc.constant('fetch' as const), who: fc.nat(tenants - 1), queue: fc.constantFrom(...QUEUES) }),
    fc.record({ kind: fc.constant('lock' as const), who: fc.nat(tenants - 1), key: fc.constantFrom(...KEYS) }),
    fc.record({ kind: fc.constant('peek' as const), who: fc.nat(tenants - 1), victim: fc.nat(tenants - 1) }),
  );

test('isolation: random operations from many tenants never leak across tenants', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(op(4), { minLength: 5, maxLength: 25 }), async (ops) => {
      const names = Array.from({ length: 4 }, () => freshTenant());
      const storages = names.map((n) => router.tenant(n));
      const jobsOf = names.map(() => [] as string[]);
      const counters = names.map(() => new Map<string, number>());
      for (const o of ops) {
        const me = names[o.who]!;
        const s = storages[o.who]!;
        switch (o.kind) {
          case 'job':
            jobsOf[o.who]!.push(await enqueueJob(s, o.queue, 'owned', [me]));
            break;
          case 'hash':
            await s.transaction((tx) => tx.hashSet(o.key, { owner: me }));
            if ((await s.data.hashGet(o.key, 'owner')) !== me) return false;
            break;
          case 'set':
            await s.transaction((tx) => tx.setAdd(o.key, me, 1));
            if ((await s.data.setAll(o.key)).some((m) => m !== me)) return false;
            break;
          case 'list':
            await s.transaction((tx) => tx.listInsert(o.key, me));
            if ((await s.data.listAll(o.key)).some((v) => v !== me)) return false;
            break;
          case 'counter': {
            await s.transaction((tx) => tx.counterIncrement(o.key, 1));
            const mine = (counters[o.who]!.get(o.key) ?? 0) + 1;
            counters[o.who]!.set(o.key, mine);
            if ((await s.data.counterGet(o.key)) !== mine) return false;
            break;
          }
          case 'fetch': {
            const f = await fetchOrNull(s, [o.queue], 20);
            if (f) {
              if (!jobsOf[o.who]!.includes(f.jobId)) return false;
              const job = await s.jobs.get(f.jobId);
              if (job.args[0] !== me) return false;
              await f.ack();
            }
            break;
          }
          case 'lock': {
            // Every tenant can take its own lock of the same name at once.
            const held = await Promise.all(storages.map((x) => x.locks.acquire(o.key, { timeoutMs: 0, ttlMs: 5_000 })));
            await Promise.all(held.map((l) => l.release()));
            break;
          }
          case 'peek':
            if (o.victim === o.who) break;
            for (const id of jobsOf[o.victim]!) {
              const err = await s.jobs.get(id).then(
                () => null,
                (e: { code?: string }) => e,
              );
              if (err?.code !== 'JOB_NOT_FOUND') return false;
            }
            break;
        }
      }
      // Monitoring only ever counts a tenant's own jobs.
      for (const [i, s] of storages.entries()) {
        const counts = await s.monitoring.stateCounts();
        if ((counts['Enqueued'] ?? 0) > jobsOf[i]!.length) return false;
        for (const q of await s.monitoring.queues()) {
          for (const job of await s.monitoring.queueJobs(q.name, { limit: 1000 })) if (job.args[0] !== names[i]) return false;
        }
      }
      return true;
    }),
    { numRuns: 25 },
  );
  t.pass();
});
