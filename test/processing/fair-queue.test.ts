import test from 'ava';
import { FairQueue } from '../../src/processing/fair-queue.js';
import { ShardShares } from '../../src/processing/shard-shares.js';

/** Takes n fetches, each finding a job for tenants in `backlog` (and none for the others). */
function drive(q: FairQueue, n: number, backlog: (t: string) => boolean): Map<string, number> {
  const got = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const t = q.next();
    if (t === null) break;
    const mark = q.mark(t);
    const has = backlog(t);
    q.done(t, has, mark);
    if (has) got.set(t, (got.get(t) ?? 0) + 1);
  }
  return got;
}

test('weights 1:3 give shares of 1:3 between two backlogged tenants', (t) => {
  const q = new FairQueue((id) => (id === 'heavy' ? 3 : 1));
  q.add('light');
  q.add('heavy');
  const got = drive(q, 4_000, () => true);
  t.is(got.get('light'), 1_000);
  t.is(got.get('heavy'), 3_000);
});

test('fractional weights earn fetches over several turns', (t) => {
  const q = new FairQueue((id) => (id === 'a' ? 0.5 : 1));
  q.add('a');
  q.add('b');
  const got = drive(q, 3_000, () => true);
  t.is(got.get('a'), 1_000);
  t.is(got.get('b'), 2_000);
});

test('a tenant that just got work is served within one turn of the ring, whatever the backlogs', (t) => {
  const q = new FairQueue(() => 1);
  for (let i = 0; i < 50; i++) q.add(`big${i}`);
  drive(q, 10_000, () => true);
  q.add('newcomer');
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const next = q.next()!;
    order.push(next);
    q.done(next, true, q.mark(next));
  }
  t.true(order.includes('newcomer'), `served among the next fetches: ${order.join(', ')}`);
});

test('an empty fetch drops the tenant, unless a wake-up came while it was in flight', (t) => {
  const q = new FairQueue(() => 1);
  q.add('a');
  const first = q.next()!;
  const mark = q.mark(first);
  q.add('a'); // woken meanwhile: an enqueue raced the empty fetch
  q.done(first, false, mark);
  t.true(q.has('a'));
  const second = q.next()!;
  q.done(second, false, q.mark(second));
  t.false(q.has('a'));
  t.is(q.next(), null);
});

test("until a tenant's fetch brings a job, one fetch of it is in flight; then several", (t) => {
  const q = new FairQueue(() => 4);
  q.add('a');
  const probe = q.next();
  t.is(probe, 'a');
  t.is(q.next(), null, 'a second worker waits for the probe');
  q.done('a', true, q.mark('a'));
  t.is(q.next(), 'a');
  t.is(q.next(), 'a', 'confirmed: fetches run side by side');
});

test('changed() resolves when a tenant joins, and for good after close()', async (t) => {
  const q = new FairQueue(() => 1);
  const waited = q.changed();
  q.add('x');
  await waited;
  const closing = q.changed();
  q.close();
  await closing;
  await q.changed(); // closed: at once
  t.pass();
});

/**
 * A pool of `workers` over tenants `<shard><i>` whose jobs take 1-3 ticks (from a fixed
 * pseudo-random sequence), with ShardShares limiting each shard, and `stuck` workers held by a
 * shard 'down' that stopped answering (its tenants left the ring when their fetches failed):
 * per tenant, the jobs run in `steps` ticks.
 */
function simulatePool(workers: number, stuck: number, tenants: string[], steps: number): Map<string, number> {
  let seed = 7;
  const jitter = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % 3;
  const shardOf = (t: string) => t.replace(/\d+$/, '');
  const shares = new ShardShares(workers, shardOf, () => 1);
  const q = new FairQueue(() => 1, workers, { joined: (t) => shares.joined(t), left: (t) => shares.left(t) });
  for (const t of tenants) q.add(t);
  for (let i = 0; i < stuck; i++) shares.take('down');
  const running: Array<{ tenant: string; until: number }> = [];
  const ran = new Map<string, number>();
  const take = (now: number) => {
    while (running.length < workers - stuck) {
      const tenant = q.next((t) => shares.mayTake(t));
      if (tenant === null) return;
      shares.take(shardOf(tenant));
      running.push({ tenant, until: now + 1 + jitter() });
    }
  };
  for (let now = 0; now < steps; now++) {
    // Jobs end one at a time, and each freed worker takes its next job before the next one ends.
    for (let i = 0; i < running.length;) {
      const r = running[i]!;
      if (r.until > now) {
        i++;
        continue;
      }
      running.splice(i, 1);
      q.done(r.tenant, true, q.mark(r.tenant));
      shares.release(shardOf(r.tenant));
      ran.set(r.tenant, (ran.get(r.tenant) ?? 0) + 1);
      take(now);
    }
    take(now);
  }
  return ran;
}

test('tenants of shards held at their worker limit keep even shares: none starves behind the first after a refused run', (t) => {
  const tenants = ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3'];
  const ran = simulatePool(8, 1, tenants, 2_000);
  const served = tenants.map((x) => ran.get(x) ?? 0);
  const mean = served.reduce((a, b) => a + b, 0) / served.length;
  t.log(`jobs run per tenant: ${served.join(', ')}`);
  // Every free worker is kept busy: 7 workers × 2,000 ticks, at 2 ticks a job on average.
  t.true(mean * served.length >= (0.95 * 7 * 2_000) / 2, `${mean * served.length} jobs`);
  // Moving the ring's position past refused tenants gave 1, 1, 1, 3474, 1, 1, 1, 3477 here.
  for (const n of served) t.true(Math.abs(n - mean) <= 0.1 * mean, `${served.join(', ')}`);
});

test('a tenant refused for its shard keeps its share of the round: it is served later in the same round', (t) => {
  const q = new FairQueue(() => 1, 4);
  q.add('x');
  q.add('y');
  const first = q.next()!;
  q.done(first, true, q.mark(first)); // confirmed: it has a backlog
  const other = first === 'x' ? 'y' : 'x';
  // Refused: the other is served meanwhile.
  t.is(
    q.next((tn) => tn !== first),
    other,
  );
  q.done(other, true, q.mark(other));
  // Room again: each gets the rest of its 4 this round before either earns the next round's.
  const rest = Array.from({ length: 6 }, () => q.next());
  t.is(rest.filter((x) => x === first).length, 3, rest.join(', '));
  t.is(rest.filter((x) => x === other).length, 3, rest.join(', '));
});
