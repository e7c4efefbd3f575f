import type { Backend, Storage } from '../../src/storage/storage.js';
import { ALIAS_HASH, type UnitItem } from '../../src/storage/unit-stream.js';
import { ID_MARKS_HASH } from '../../src/storage/id-marks.js';

/**
 * The fixture's leases and lock grants: long enough to outlast a test that copies the unit on a loaded
 * machine (a catch-up test once ran past 60 s in CI, and its leased entry lapsed between the two
 * exports it compares).
 */
const FIXTURE_LEASE_MS = 600_000;

/** One of everything a unit can hold: jobs in several states (one leased), structures with expiry, a held lock, a server. */
export async function fillUnit(s: Storage): Promise<{ ids: Record<string, string> }> {
  const waiting = await s.jobs.create({ type: 'a', args: [1, { x: 'y' }], queue: 'q1', parameters: { p: '1' }, state: { name: 'Enqueued' }, enqueue: true });
  const leased = await s.jobs.create({ type: 'b', args: [], queue: 'q1', state: { name: 'Enqueued' }, enqueue: true });
  const requeued = await s.jobs.create({ type: 'f', args: [], queue: 'q1', state: { name: 'Enqueued' }, enqueue: true });
  const other = await s.jobs.create({ type: 'e', args: ['z'], queue: 'q2', state: { name: 'Enqueued', reason: 'r', data: { k: 'v' } }, enqueue: true });
  const done = await s.jobs.create({ type: 'c', args: [], queue: 'q1', state: { name: 'Processing' } });
  await s.transaction((tx) => {
    tx.setJobState(done, { name: 'Succeeded', reason: 'ok', data: { took: '5' } });
    tx.addJobState(done, { name: 'Note' });
    tx.setJobParameter(done, 'retries', '2');
    tx.expireJob(done, 3_600_000);
  });
  const bare = await s.jobs.create({ type: 'd', args: [], queue: 'q1', expireInMs: 3_600_000 });
  // Fetch the first three in FIFO order; keep the second leased, give the first and third back.
  const f1 = await s.queues.tryFetch(['q1'], {
    invisibilityTimeoutMs: FIXTURE_LEASE_MS,
    withJob: true,
    setState: { state: { name: 'Processing' }, from: ['Enqueued'] },
  });
  const f2 = await s.queues.tryFetch(['q1'], {
    invisibilityTimeoutMs: FIXTURE_LEASE_MS,
    withJob: true,
    setState: { state: { name: 'Processing' }, from: ['Enqueued'] },
  });
  const f3 = await s.queues.tryFetch(['q1'], { invisibilityTimeoutMs: FIXTURE_LEASE_MS });
  await f1!.requeue();
  await f3!.requeue();
  if (f2!.jobId !== leased) throw new Error('fixture: FIFO order broken');
  await s.transaction((tx) => {
    tx.hashSet('h1', { a: '1', b: '2' });
    tx.expire('hash', 'h1', 3_600_000);
    tx.setAdd('z1', 'm1', 0.1);
    tx.setAdd('z1', 'm2', -3);
    tx.setAdd('z1', 'm3', 1e15 + 0.5);
    tx.listInsert('l1', 'first');
    tx.listInsert('l1', 'second');
    tx.listInsert('l1', 'third');
    tx.counterIncrement('c1', 5, { expireInMs: 3_600_000 });
    tx.counterIncrement('c2', -2);
  });
  const held = await s.locks.acquire('r1', { timeoutMs: 0, ttlMs: FIXTURE_LEASE_MS, autoRenew: false });
  const gone = await s.locks.acquire('r2', { timeoutMs: 0, ttlMs: FIXTURE_LEASE_MS, autoRenew: false });
  await gone.release();
  await s.servers.announce('srv1', { queues: ['q1', 'q2'], workerCount: 3 });
  return { ids: { waiting, leased, requeued, other, done, bare, lockToken: String(held.token), releasedToken: String(gone.token) } };
}

export async function exportAll(backend: Backend, ns: string): Promise<UnitItem[]> {
  const out: UnitItem[] = [];
  for await (const batch of backend.exportUnit(ns)) out.push(...batch);
  return out;
}

/**
 * An export in a form two backends' exports compare in: ids renamed through
 * the target's alias hash (and the hash itself dropped), items in a fixed
 * order, times rounded to `tolMs` (a TTL read back is relative to the read).
 */
/**
 * Two normalized exports, with every time of `actual` (a lease's or an expiry's, in ms) that lies
 * within tolMs of the same place in `expected` taken as equal to it: clocks read on both sides
 * (TTLs turned into instants) differ by a few ms, and any rounding of them has edges to fall across.
 */
export function alignTimes(actual: unknown[], expected: unknown[], tolMs = 2_000): [unknown[], unknown[]] {
  const snap = (a: unknown, e: unknown): unknown => {
    if (Array.isArray(a) && Array.isArray(e)) return a.map((x, i) => snap(x, e[i]));
    if (a && e && typeof a === 'object' && typeof e === 'object') {
      return Object.fromEntries(
        Object.entries(a).map(([k, v]) => {
          const w = (e as Record<string, unknown>)[k];
          if ((k === 'leaseUntil' || k === 'expireAt') && typeof v === 'number' && typeof w === 'number' && Math.abs(v - w) <= tolMs) return [k, w];
          return [k, snap(v, w)];
        }),
      );
    }
    return a;
  };
  return [snap(actual, expected) as unknown[], expected];
}

export function normalize(items: readonly UnitItem[], tolMs = 0): unknown[] {
  const aliasItem = items.find((i) => i.kind === 'hash' && i.key === ALIAS_HASH);
  const back = new Map<string, string>();
  if (aliasItem?.kind === 'hash') for (const [from, to] of Object.entries(aliasItem.fields)) if (!back.has(to) || from.length > 0) back.set(to, from);
  const name = (id: string) => back.get(id) ?? id;
  // tolMs 0 keeps times as they are (compare them with alignTimes).
  const t = (ms: number | null) => (ms === null ? null : tolMs > 0 ? Math.round(ms / tolMs) : ms);
  const out = items
    // The id marks hold each exporter's own counter, which differs between two shards; id-marks tests check them.
    .filter((i) => !(i.kind === 'hash' && (i.key === ALIAS_HASH || i.key === ID_MARKS_HASH)))
    .map((i) => {
      switch (i.kind) {
        case 'job':
          return { ...i, id: name(i.id), expireAt: t(i.expireAt), parameters: sorted(i.parameters) };
        // An entry's seq is its place at one source; the order of a queue's entries is what must match.
        case 'entry':
          return { kind: i.kind, queue: i.queue, jobId: name(i.jobId), deliveries: i.deliveries, leaseUntil: t(i.leaseUntil) };
        case 'lock':
          return { ...i, holder: i.holder && { token: i.holder.token, leaseUntil: t(i.holder.leaseUntil) } };
        case 'server':
        case 'gone':
          return i;
        case 'set':
          return { ...i, members: [...i.members].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)), expireAt: t(i.expireAt) };
        case 'hash':
          return { ...i, fields: sorted(i.fields), expireAt: t(i.expireAt) };
        default:
          return { ...i, expireAt: t(i.expireAt) };
      }
    });
  const key = (i: { kind: string } & Record<string, unknown>) => `${i.kind}\u0000${String(i['id'] ?? i['key'] ?? i['resource'] ?? i['queue'])}`;
  // Entries keep their order within a queue (a stable sort by queue); everything else sorts by name.
  return out
    .map((i, n) => ({ i, n }))
    .sort((a, b) => {
      const ka = key(a.i as never),
        kb = key(b.i as never);
      return ka < kb ? -1 : ka > kb ? 1 : a.n - b.n;
    })
    .map((x) => x.i);
}

function sorted(r: Record<string, string>): Array<[string, string]> {
  return Object.entries(r).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
