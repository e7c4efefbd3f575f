// The fetch wait loop (createStorage), seen through a driver that counts its fetch attempts.
import test from 'ava';
import { MemoryNamespace } from '../../src/backends/memory/memory-namespace.js';
import { createStorage } from '../../src/storage/create-storage.js';
import { delay, enqueueJob } from '../conformance/helpers.js';

function counted() {
  let id = 0;
  const driver = new MemoryNamespace(() => ++id, 30_000);
  const attempts = { n: 0 };
  const tryFetch = driver.tryFetch.bind(driver);
  driver.tryFetch = (...args) => {
    attempts.n++;
    return tryFetch(...args);
  };
  return { storage: createStorage(driver), attempts };
}

test('one job enqueued to 32 idle waiting fetches sends a few of them to fetch, not all 32', async (t) => {
  const { storage, attempts } = counted();
  const stop = new AbortController();
  const waiters = Array.from({ length: 32 }, () =>
    storage.queues.fetch(['herd'], { signal: stop.signal }).then(
      (f) => f.jobId,
      () => null,
    ),
  );
  await delay(50);
  const before = attempts.n;
  const id = await enqueueJob(storage, 'herd');
  await delay(100);
  const after = attempts.n - before;
  stop.abort();
  t.deepEqual(
    (await Promise.all(waiters)).filter((x) => x !== null),
    [id],
  );
  // The woken waiter gets the job and rings two more, which find nothing.
  t.true(after >= 1 && after <= 4, `${after} fetch attempts for one job`);
});

test('a waiter aborted right after it was rung passes the wake-up on', async (t) => {
  let id = 0;
  const driver = new MemoryNamespace(() => ++id, 30_000);
  const first = new AbortController();
  // The enqueue's wake-up rings the longest sleeper (a), which is then aborted before it can fetch.
  const subscribe = driver.subscribeWork.bind(driver);
  driver.subscribeWork = (queues, wake) =>
    subscribe(queues, () => {
      wake();
      first.abort();
    });
  const storage = createStorage(driver);
  const a = storage.queues.fetch(['pass'], { signal: first.signal }).then(
    () => 'fetched',
    () => 'aborted',
  );
  await delay(20);
  const b = storage.queues.fetch(['pass'], { signal: AbortSignal.timeout(2_000) });
  await delay(20);
  const job = await enqueueJob(storage, 'pass');
  t.is(await a, 'aborted');
  t.is((await b).jobId, job, 'b was woken in a, not left to its 30 s poll');
});
