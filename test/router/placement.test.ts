import test from 'ava';
import fc from 'fast-check';
import { quotasFor, SLOT_COUNT, SlotTable } from '../../src/shards/slot-table.js';

const shards = (n: number, weight = (_i: number) => 1) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, weight: weight(i) }));

test('slot table: the same configuration gives the same table in every process', (t) => {
  const a = SlotTable.build(shards(7, (i) => 1 + (i % 3)));
  const b = SlotTable.build(shards(7, (i) => 1 + (i % 3)));
  t.is(a.version, b.version);
  t.deepEqual([...a.owners], [...b.owners]);
  t.not(SlotTable.build(shards(7)).version, a.version, 'another weighting is another table');
});

test('slot table: slot shares follow weights exactly (largest remainder), so tenants follow them within noise', (t) => {
  for (const [n, weight] of [
    [4, (i: number) => i + 1],
    [16, () => 1],
    [10, (i: number) => (i % 2 ? 3 : 1)],
  ] as const) {
    const list = shards(n, weight);
    const counts = SlotTable.build(list).counts();
    const total = list.reduce((a, s) => a + s.weight, 0);
    for (const s of list) {
      const share = counts.get(s.id)! / SLOT_COUNT;
      t.true(Math.abs(share - s.weight / total) <= 1 / SLOT_COUNT, `${s.id}: ${share} vs ${s.weight / total}`);
    }
  }
});

test('slot table: appending a shard moves only slots to the new shard, exactly its quota', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 5 }), (weights, newWeight) => {
      const before = shards(weights.length, (i) => weights[i]!);
      const after = [...before, { id: 'new', weight: newWeight }];
      const a = SlotTable.build(before);
      const b = SlotTable.build(after);
      let moved = 0;
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        const from = a.shards[a.owners[slot]!];
        const to = b.shards[b.owners[slot]!];
        if (from !== to) {
          if (to !== 'new') return false; // collateral movement between old shards
          moved++;
        }
      }
      return moved === quotasFor(after).at(-1);
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('slot table: lookups use the Redis Cluster slot function', (t) => {
  t.is(SlotTable.slotOf('foo'), 12182); // the reference value from the Redis Cluster spec
  t.is(SlotTable.slotOf('123456789'), 0x31c3 % SLOT_COUNT);
  const table = SlotTable.build(shards(3));
  t.is(table.shardOf('{acme}:anything'), table.shardOf('acme'), 'a hash tag hashes only its content');
});

test('slot table: the allocation-free ASCII slot function agrees with cluster-key-slot on every key', async (t) => {
  const { default: calculateSlot } = await import('cluster-key-slot');
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[A-Za-z0-9_:-]{1,80}$/)),
      (key) => SlotTable.slotOf(key) === calculateSlot(key),
    ),
    { numRuns: 20_000 },
  );
  for (const key of ['', 'a{b}c', '{}x', 'x{}', 'ünï', '🚀', '{tag}rest']) t.is(SlotTable.slotOf(key), calculateSlot(key), key);
});
