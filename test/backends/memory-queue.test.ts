// The memory backend's queue index against the walk it replaced: every entry in place order, a
// fetch taking the first that waits or whose lease lapsed. Random sequences of adds, fetches,
// give-backs, extensions, removals, import replacements and clock steps must agree call by call.
import test from 'ava';
import fc from 'fast-check';
import { MemoryQueue, type QueueEntry } from '../../src/backends/memory/memory-queue.js';

/** The reference: the walk from the head that every fetch made before the index. */
class Walk {
  readonly entries = new Map<number, QueueEntry>();
  put(seq: number, e: QueueEntry): void {
    this.entries.set(seq, e);
  }
  take(now: number, token: string, leaseUntil: number): number | null {
    for (const [seq, e] of [...this.entries].sort((a, b) => a[0] - b[0])) {
      if (e.token !== null && e.leaseUntil > now) continue;
      e.token = token;
      e.leaseUntil = leaseUntil;
      e.deliveries += 1;
      return seq;
    }
    return null;
  }
  hasVisible(now: number): boolean {
    return [...this.entries.values()].some((e) => e.token === null || e.leaseUntil <= now);
  }
  inFlight(now: number): number {
    return [...this.entries.values()].filter((e) => e.token !== null && e.leaseUntil > now).length;
  }
  nextLapse(now: number): number | null {
    const live = [...this.entries.values()].filter((e) => e.token !== null && e.leaseUntil > now).map((e) => e.leaseUntil);
    return live.length ? Math.min(...live) : null;
  }
}

type Op =
  | { op: 'add'; leased: boolean; ms: number }
  | { op: 'take'; ms: number }
  | { op: 'release' | 'delete'; pick: number }
  | { op: 'extend'; pick: number; ms: number }
  | { op: 'replace'; pick: number; leased: boolean; ms: number }
  | { op: 'tick'; ms: number };

const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), leased: fc.boolean(), ms: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constant('take' as const), ms: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constant('take' as const), ms: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constantFrom('release' as const, 'delete' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('extend' as const), pick: fc.nat(), ms: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), leased: fc.boolean(), ms: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30 }) }),
);

test('the queue index takes, counts and times leases exactly as a walk from the head does', (t) => {
  fc.assert(
    fc.property(fc.array(ops, { maxLength: 300, size: 'max' }), (steps) => {
      const q = new MemoryQueue();
      const walk = new Walk();
      let now = 1_000;
      let seq = 0;
      let tokens = 0;
      const entry = (leased: boolean, ms: number): QueueEntry => ({
        jobId: `j${seq}`,
        token: leased ? `t${++tokens}` : null,
        leaseUntil: leased ? now + ms : 0,
        deliveries: 0,
      });
      const seqs = () => [...walk.entries.keys()];
      const leasedSeqs = () => seqs().filter((s) => walk.entries.get(s)!.token !== null);
      for (const step of steps) {
        switch (step.op) {
          case 'add': {
            seq++;
            const e = entry(step.leased, step.ms);
            q.put(seq, { ...e });
            walk.put(seq, { ...e });
            break;
          }
          case 'take': {
            const token = `t${++tokens}`;
            const got = q.take(now, () => token, now + step.ms);
            const want = walk.take(now, token, now + step.ms);
            if ((got?.seq ?? null) !== want) return false;
            if (got && got.e.deliveries !== walk.entries.get(want!)!.deliveries) return false;
            break;
          }
          case 'release': {
            const l = leasedSeqs();
            if (l.length === 0) break;
            const s = l[step.pick % l.length]!;
            q.release(s);
            const e = walk.entries.get(s)!;
            e.token = null;
            e.leaseUntil = 0;
            break;
          }
          case 'delete': {
            const all = seqs();
            if (all.length === 0) break;
            const s = all[step.pick % all.length]!;
            q.delete(s);
            walk.entries.delete(s);
            break;
          }
          case 'extend': {
            const l = leasedSeqs();
            if (l.length === 0) break;
            const s = l[step.pick % l.length]!;
            q.extend(s, now + step.ms);
            walk.entries.get(s)!.leaseUntil = now + step.ms;
            break;
          }
          case 'replace': {
            // An import's later copy of an entry: a new record in the same place.
            const all = seqs();
            if (all.length === 0) break;
            const s = all[step.pick % all.length]!;
            const e = entry(step.leased, step.ms);
            q.put(s, { ...e });
            walk.put(s, { ...e });
            break;
          }
          case 'tick':
            now += step.ms;
            break;
        }
        if (q.size !== walk.entries.size) return false;
        if (q.inFlight(now) !== walk.inFlight(now)) return false;
        if (q.nextLapse(now) !== walk.nextLapse(now)) return false;
        if (q.hasVisible(now) !== walk.hasVisible(now)) return false;
        if ([...q.entries.keys()].join() !== seqs().join()) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('a queue of 20,000 entries with 100 leases held at its head gives every other entry in FIFO order', (t) => {
  const q = new MemoryQueue();
  for (let i = 1; i <= 20_000; i++) q.put(i, { jobId: `j${i}`, token: null, leaseUntil: 0, deliveries: 0 });
  const held: number[] = [];
  for (let i = 0; i < 100; i++) held.push(q.take(0, () => 'x', 60_000)!.seq);
  const taken: number[] = [];
  for (;;) {
    const got = q.take(1, () => 'y', 60_000);
    if (!got) break;
    q.delete(got.seq);
    taken.push(got.seq);
  }
  t.deepEqual(
    held,
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  t.deepEqual(
    taken,
    Array.from({ length: 19_900 }, (_, i) => i + 101),
  );
  t.is(q.inFlight(1), 100);
  t.is(q.nextLapse(1), 60_000);
  // Lapsed together, they come back in their places, ahead of an entry added since.
  q.put(20_001, { jobId: 'late', token: null, leaseUntil: 0, deliveries: 0 });
  t.deepEqual(
    Array.from({ length: 3 }, () => q.take(60_000, () => 'z', 120_000)!.seq),
    [1, 2, 3],
  );
});
