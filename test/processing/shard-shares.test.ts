import test from 'ava';
import { ShardShares } from '../../src/processing/shard-shares.js';

const shardOf = (t: string) => t.replace(/\d+$/, '');

test('alone, a shard may use every worker; with other shards ready, it leaves one worker per ready tenant, up to half the pool', (t) => {
  const s = new ShardShares(8, shardOf, () => 1);
  s.joined('a0');
  for (let i = 0; i < 8; i++) s.take('a');
  t.true(s.busy('a') === 8);
  // b0 is ready: a must give back one worker before it may take another.
  s.joined('b0');
  t.false(s.mayTake('a0'));
  t.true(s.mayTake('b0'));
  s.release('a');
  t.false(s.mayTake('a0'), '7 busy, limit 8 - 1');
  s.release('a');
  t.true(s.mayTake('a0'));
  // Many tenants elsewhere: at most half the pool is kept for them.
  for (const x of ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']) s.joined(x);
  for (let i = s.busy('a'); i < 4; i++) s.take('a');
  while (s.busy('a') > 4) s.release('a');
  t.false(s.mayTake('a0'), '4 busy of a limit of 8 - 4');
  s.release('a');
  t.true(s.mayTake('a0'));
  // They leave: the limit lifts.
  for (const x of ['b0', 'c0', 'c1', 'c2', 'c3', 'c4', 'c5']) s.left(x);
  for (let i = 0; i < 4; i++) s.take('a');
  t.is(s.busy('a'), 7);
  t.true(s.mayTake('a0'));
});

test('release() says when the shard was at its limit, so that waiting workers look again', (t) => {
  const s = new ShardShares(2, shardOf, () => 1);
  s.joined('a0');
  s.joined('b0');
  s.take('a');
  t.false(s.mayTake('a0'), 'limit 2 - 1');
  t.true(s.release('a'));
  s.take('b');
  s.joined('b1');
  t.false(s.release('a'), 'not taken: nothing was waiting on it');
});

test('after a placement change, ring tenants count for the shard they live on now', (t) => {
  let placement = 1;
  const where = new Map([['x', 'a']]);
  const s = new ShardShares(
    4,
    (tenant) => where.get(tenant) ?? shardOf(tenant),
    () => placement,
  );
  s.joined('x');
  s.joined('b0');
  t.is(s.shardOf('x'), 'a');
  where.set('x', 'b');
  t.is(s.shardOf('x'), 'a', 'the placement is unchanged: the shard it joined with');
  placement = 2;
  t.is(s.shardOf('x'), 'b');
  // Both of its ring tenants are on b now: no other shard is ready, b may take every worker.
  for (let i = 0; i < 3; i++) s.take('b');
  t.true(s.mayTake('x'));
});
