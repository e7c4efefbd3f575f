import test from 'ava';
import { FairQueue } from '../../src/processing/fair-queue.js';

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
