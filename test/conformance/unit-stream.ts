import { randomUUID } from 'node:crypto';
import { isJobshardError } from '../../src/storage/errors.js';
import type { Backend } from '../../src/storage/storage.js';
import { ALIAS_HASH, type UnitItem } from '../../src/storage/unit-stream.js';
import { alignTimes, exportAll, fillUnit, normalize } from '../helpers/unit-fixture.js';
import type { Test } from './harness.js';

async function* once(items: UnitItem[]): AsyncIterable<UnitItem[]> {
  yield items;
}

/** The export/import stream a move copies units with (test/moves holds every pair of backends). */
export function unitStreamTests(test: Test, name: string, backend: Backend): void {
  test(`${name}: a unit exported, cleared and imported again holds what it held, and its ids still resolve`, async (t) => {
    const ns = `stream-${randomUUID()}`;
    const { ids } = await fillUnit(backend.storage(ns));
    const before = await exportAll(backend, ns);
    t.true(
      before.some((i) => i.kind === 'entry' && i.leaseUntil !== null),
      'a leased entry is exported with its lease',
    );
    t.true(
      before.some((i) => i.kind === 'lock' && i.holder !== null),
      'a held lock is exported with its holder',
    );
    await backend.clearUnit(ns);
    t.false(await backend.hasData(ns));
    await backend.importUnit(ns, once(before));
    t.deepEqual(...alignTimes(normalize(await exportAll(backend, ns)), normalize(before)));
    const s = backend.storage(ns);
    const id = (await s.data.hashGet(ALIAS_HASH, ids['done']!)) ?? ids['done']!;
    t.is((await s.jobs.get(id)).state, 'Succeeded');
    await backend.clearUnit(ns);
  });

  test(`${name}: a queue longer than an export page is exported in its FIFO order, leased entries in their places`, async (t) => {
    const ns = `stream-${randomUUID()}`;
    const s = backend.storage(ns);
    const ids: string[] = [];
    // More than two export pages (EXPORT_BATCH), created in order.
    for (let i = 0; i < 1_100; i += 50) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const id = await s.jobs.create({ type: 'x', args: [i + j], queue: 'q', state: { name: 'Enqueued' } });
            return id;
          }),
        )),
      );
    }
    await s.transaction((tx) => {
      for (const id of ids) tx.enqueue('q', id);
    });
    // Lease the first five, then give the second and fourth back: leased and waiting entries alternate.
    const fetched = [];
    for (let i = 0; i < 5; i++) fetched.push((await s.queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 }))!);
    await fetched[1]!.requeue();
    await fetched[3]!.requeue();
    const exported = await exportAll(backend, ns);
    const entries = exported.filter((i) => i.kind === 'entry');
    t.deepEqual(
      entries.map((e) => e.jobId),
      ids,
      'every entry once, in the order enqueued',
    );
    t.deepEqual(
      entries.slice(0, 6).map((e) => e.leaseUntil !== null),
      [true, false, true, false, true, false],
    );
    t.deepEqual(
      exported
        .filter((i) => i.kind === 'job')
        .map((j) => j.id)
        .sort(),
      [...ids].sort(),
      'every job once',
    );
    await backend.clearUnit(ns);
    t.deepEqual(await exportAll(backend, ns), [], 'a unit larger than a page of its listing is cleared whole');
  });

  test(`${name}: a job's parameters named like Object's own properties are exported as they are`, async (t) => {
    const ns = `stream-${randomUUID()}`;
    // JSON.parse makes "__proto__" an own property, as a caller decoding a payload would have it.
    const parameters = JSON.parse('{"__proto__":"p","constructor":"c"}') as Record<string, string>;
    await backend.storage(ns).jobs.create({ type: 'x', args: [], queue: 'q', parameters });
    const job = (await exportAll(backend, ns)).find((i) => i.kind === 'job');
    t.deepEqual(Object.entries(job?.kind === 'job' ? job.parameters : {}).sort(), [
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ]);
    await backend.clearUnit(ns);
  });

  test(`${name}: a job replaced by a later copy is listed once, under the copy's state; entries copied in one call keep their order, leases and deliveries`, async (t) => {
    const from = `stream-${randomUUID()}`,
      to = `stream-${randomUUID()}`;
    const s = backend.storage(from);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await s.jobs.create({ type: 'x', args: [i], queue: 'q', state: { name: 'Enqueued' } }));
    await s.transaction((tx) => {
      for (const id of ids) tx.enqueue('q', id);
    });
    // The first two leased (one delivery each), the first given back: a waiting entry with a delivery.
    const first = (await s.queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 }))!;
    await s.queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 });
    await first.requeue();
    const session = backend.beginImport(to);
    await session.add(await exportAll(backend, from));
    // The source moves on: the copy of the first job replaces it in one call, as a catch-up does.
    await s.transaction((tx) => tx.setJobState(ids[0]!, { name: 'Succeeded' }));
    await session.replace(await backend.exportRefs(from, [`j:${ids[0]}`]));
    await session.finish();
    const target = backend.storage(to);
    const idOf = async (id: string) => (await target.data.hashGet(ALIAS_HASH, id)) ?? id;
    const counts = await target.monitoring.stateCounts();
    t.is(counts['Succeeded'], 1);
    t.is(counts['Enqueued'] ?? 0, 5, 'the replaced job left its old state list');
    const replaced = await idOf(ids[0]!);
    t.deepEqual(
      (await target.monitoring.jobsInState('Succeeded')).map((j) => j.id),
      [replaced],
    );
    t.false((await target.monitoring.jobsInState('Enqueued')).some((j) => j.id === replaced));
    const entries = (items: UnitItem[]) => normalize(items).filter((i) => (i as { kind: string }).kind === 'entry');
    t.deepEqual(...alignTimes(entries(await exportAll(backend, to)), entries(await exportAll(backend, from))));
    await backend.clearUnit(from);
    await backend.clearUnit(to);
  });

  test(`${name}: an empty unit exports nothing`, async (t) => {
    t.deepEqual(await exportAll(backend, `empty-${randomUUID()}`), []);
  });

  test(`${name}: a moved mark never replaces one of a later epoch; an active, frozen or later mark replaces it`, async (t) => {
    const ns = `mark-${randomUUID()}`;
    await backend.setOwnership(ns, { state: 'moved', to: 'x', epoch: 5 });
    await backend.setOwnership(ns, { state: 'moved', to: 'y', epoch: 4 });
    t.deepEqual(await backend.ownership(ns), { state: 'moved', to: 'x', epoch: 5 }, 'an older mark is ignored');
    await backend.setOwnership(ns, { state: 'moved', to: 'y', epoch: 5 });
    t.deepEqual(await backend.ownership(ns), { state: 'moved', to: 'y', epoch: 5 }, 'the same epoch replaces it');
    await backend.setOwnership(ns, { state: 'moved', to: 'z', epoch: 9 });
    t.deepEqual(await backend.ownership(ns), { state: 'moved', to: 'z', epoch: 9 });
    const until = Date.now() + 60_000;
    await backend.setOwnership(ns, { state: 'frozen', until });
    t.deepEqual(await backend.ownership(ns), { state: 'frozen', until });
    await backend.setOwnership(ns, { state: 'moved', to: 'x', epoch: 1 });
    t.deepEqual(await backend.ownership(ns), { state: 'moved', to: 'x', epoch: 1 }, 'over a freeze any mark lands');
    await backend.setOwnership(ns, { state: 'active' });
    t.deepEqual(await backend.ownership(ns), { state: 'active' });
  });

  test(`${name}: a fenced import writes only under its move's mark: re-marked later, every call throws MoveAbortedError and writes nothing`, async (t) => {
    const src = `fence-src-${randomUUID()}`;
    await fillUnit(backend.storage(src));
    const items = await exportAll(backend, src);
    const jobs = items.filter((i) => i.kind === 'job');
    const rest = items.filter((i) => i.kind !== 'job' && i.kind !== 'entry');
    t.true(jobs.length >= 2 && rest.length > 0);

    const ns = `fence-${randomUUID()}`;
    await backend.setOwnership(ns, { state: 'moved', to: 'src', epoch: 10 });
    const session = backend.beginImport(ns, { epoch: 10 });
    await session.add(jobs.slice(0, 1));
    t.true(await backend.hasData(ns), 'under its mark the import writes');

    // What a rollback does: re-mark at a later epoch, then clear.
    await backend.setOwnership(ns, { state: 'moved', to: 'src', epoch: 11 });
    await backend.clearUnit(ns);
    for (const [what, call] of [
      ['add', () => session.add(jobs.slice(1))],
      ['add of structures', () => session.add(rest)],
      ['replace', () => session.replace(jobs.slice(0, 1))],
      ['finish', () => session.finish()],
    ] as const) {
      const err = await t.throwsAsync(call, undefined, what);
      t.true(isJobshardError(err, 'MOVE_ABORTED'), `${what}: ${String(err)}`);
    }
    t.false(await backend.hasData(ns), 'nothing was written after the re-mark');
    // The stalled mover's own late mark (its older epoch) does not reopen the fence.
    await backend.setOwnership(ns, { state: 'moved', to: 'src', epoch: 10 });
    await t.throwsAsync(() => session.add(jobs), { code: 'MOVE_ABORTED' });
    t.false(await backend.hasData(ns));

    // A session fenced by another epoch, or over an active record, writes nothing either.
    await t.throwsAsync(() => backend.beginImport(ns, { epoch: 12 }).add(jobs), { code: 'MOVE_ABORTED' });
    await backend.setOwnership(ns, { state: 'active' });
    await t.throwsAsync(() => backend.beginImport(ns, { epoch: 11 }).add(jobs), { code: 'MOVE_ABORTED' });
    t.false(await backend.hasData(ns));
    // Unfenced (importUnit, tests and tools) it still bypasses the record.
    await backend.beginImport(ns).add(jobs.slice(0, 1));
    t.true(await backend.hasData(ns));
    await backend.clearUnit(ns);
    await backend.clearUnit(src);
  });
}
