import test from 'ava';
import { collect } from '../helpers/gc.js';
import { WeakCache } from '../../src/storage/weak-cache.js';

test('a value held elsewhere is returned again; one no longer held is made anew, and its key is forgotten', async (t) => {
  const cache = new WeakCache<{ n: number }>();
  let made = 0;
  const make = () => ({ n: ++made });
  const held = cache.getOrMake('a', make);
  cache.getOrMake('b', make);
  await collect();
  t.is(cache.getOrMake('a', make), held);
  t.is(cache.get('b'), undefined, "b's value was held by nothing");
  // Finalizers run some time after the collection: on a loaded machine, after several turns.
  for (let i = 0; i < 100 && cache.size > 1; i++) await collect();
  t.is(cache.size, 1, "b's key went with it");
  t.is(cache.getOrMake('b', make).n, 3);
});

test('with an anchor, a value lives as long as its anchor, however little the value itself is held', async (t) => {
  const cache = new WeakCache<{ anchor: object; n: number }>((v) => v.anchor);
  const anchor = {};
  cache.getOrMake('a', () => ({ anchor, n: 1 }));
  cache.getOrMake('b', () => ({ anchor: {}, n: 2 }));
  await collect();
  t.is(cache.get('a')?.n, 1, 'the anchor is held: so is the value');
  t.is(cache.get('b'), undefined);
  t.truthy(anchor);
});
