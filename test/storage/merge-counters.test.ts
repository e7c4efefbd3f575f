// Folding a group commit's counter increments: same result as applying them one by one.
import test from 'ava';
import { mergeCounterIncrements } from '../../src/storage/merge-counters.js';
import type { WriteOp } from '../../src/storage/transaction.js';

const inc = (key: string, by: number, expireInMs: number | null = null): WriteOp => ({ op: 'counterIncrement', key, by, expireInMs });

test('increments of one counter with one expiry fold into the first, in place; other ops keep their order', (t) => {
  const ops: WriteOp[] = [
    { op: 'expireJob', jobId: '1', ms: 0 },
    inc('a', 1),
    inc('b', 2, 1000),
    { op: 'expireJob', jobId: '2', ms: 0 },
    inc('a', 3),
    inc('b', 4, 1000),
    inc('b', 5, 2000),
  ];
  const before = JSON.stringify(ops);
  t.deepEqual(mergeCounterIncrements(ops), [
    { op: 'expireJob', jobId: '1', ms: 0 },
    inc('a', 4),
    inc('b', 6, 1000),
    { op: 'expireJob', jobId: '2', ms: 0 },
    inc('b', 5, 2000),
  ]);
  t.is(JSON.stringify(ops), before, 'the input is not changed');
});

test('a counter whose expiry the group changes is left alone; a sum past the safe integers is not folded', (t) => {
  const pinned: WriteOp[] = [inc('a', 1), { op: 'expire', kind: 'counter', key: 'a', ms: 10 }, inc('a', 1), inc('c', 1), inc('c', 1)];
  t.deepEqual(mergeCounterIncrements(pinned), [inc('a', 1), { op: 'expire', kind: 'counter', key: 'a', ms: 10 }, inc('a', 1), inc('c', 2)]);
  const persisted: WriteOp[] = [inc('a', 1), inc('a', 1), { op: 'persist', kind: 'counter', key: 'a' }];
  t.is(mergeCounterIncrements(persisted).length, 3);
  const sameKeyOtherKind: WriteOp[] = [inc('a', 1), { op: 'expire', kind: 'hash', key: 'a', ms: 10 }, inc('a', 1)];
  t.deepEqual(mergeCounterIncrements(sameKeyOtherKind), [inc('a', 2), { op: 'expire', kind: 'hash', key: 'a', ms: 10 }]);
  const big = Number.MAX_SAFE_INTEGER - 1;
  t.deepEqual(mergeCounterIncrements([inc('n', big), inc('n', 5), inc('n', 1)]), [inc('n', big), inc('n', 6)]);
});
