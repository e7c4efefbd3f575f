// Natural batching (storage/batcher.ts): which calls share a round trip.
import test from 'ava';
import { Batcher } from '../../src/storage/batcher.js';

/** A batcher whose round trips are recorded (their sizes) and answered after `ms`. */
function recorded(max: number, concurrency: number, ms = 5) {
  const sizes: number[] = [];
  const batcher = new Batcher<number, number>(
    async (inputs) => {
      sizes.push(inputs.length);
      await new Promise((r) => setTimeout(r, ms));
      return inputs.map((i) => i * 10);
    },
    max,
    concurrency,
  );
  return { batcher, sizes };
}

test('idle, the calls of one run of continuations go out together, each with its own answer', async (t) => {
  const { batcher, sizes } = recorded(64, 2);
  // As workers woken together call: each after a few awaits of its own.
  const calls = Array.from({ length: 16 }, async (_, i) => {
    await Promise.resolve();
    await Promise.resolve();
    return batcher.push(i);
  });
  t.deepEqual(
    await Promise.all(calls),
    Array.from({ length: 16 }, (_, i) => i * 10),
  );
  t.deepEqual(sizes, [16]);
});

test('a lone idle call goes out before any timer or I/O callback', async (t) => {
  const { batcher, sizes } = recorded(64, 2);
  let timerFired = false;
  setImmediate(() => (timerFired = true));
  const answer = batcher.push(7);
  await new Promise<void>((r) => process.nextTick(r));
  await Promise.resolve();
  t.deepEqual(sizes, [1]);
  t.false(timerFired);
  t.is(await answer, 70);
});

test('while a batch is in flight, later calls gather; a batch never exceeds max', async (t) => {
  const { batcher, sizes } = recorded(4, 1, 20);
  const first = batcher.push(0);
  await new Promise((r) => setTimeout(r, 5));
  const rest = Array.from({ length: 10 }, (_, i) => batcher.push(i + 1));
  t.deepEqual(
    await Promise.all([first, ...rest]),
    Array.from({ length: 11 }, (_, i) => i * 10),
  );
  t.deepEqual(sizes, [1, 4, 4, 2]);
});

test('with max 1 every call goes out alone, at once', async (t) => {
  const { batcher, sizes } = recorded(1, Infinity);
  const calls = [batcher.push(1), batcher.push(2), batcher.push(3)];
  t.deepEqual(sizes, [1, 1, 1]);
  t.deepEqual(await Promise.all(calls), [10, 20, 30]);
});

test('a failed round trip rejects every call of its batch, and the next batch still goes', async (t) => {
  let n = 0;
  const batcher = new Batcher<number, number>(async (inputs) => {
    if (n++ === 0) throw new Error('lost connection');
    return inputs;
  }, 64);
  const failed = [batcher.push(1), batcher.push(2)];
  for (const f of failed) await t.throwsAsync(f, { message: 'lost connection' });
  t.is(await batcher.push(3), 3);
});
