import { randomUUID } from 'node:crypto';
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
    const entries = (await exportAll(backend, ns)).filter((i) => i.kind === 'entry');
    t.deepEqual(
      entries.map((e) => e.jobId),
      ids,
      'every entry once, in the order enqueued',
    );
    t.deepEqual(
      entries.slice(0, 6).map((e) => e.leaseUntil !== null),
      [true, false, true, false, true, false],
    );
    await backend.clearUnit(ns);
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

  test(`${name}: an empty unit exports nothing`, async (t) => {
    t.deepEqual(await exportAll(backend, `empty-${randomUUID()}`), []);
  });
}
