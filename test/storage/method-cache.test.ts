import test from 'ava';
import { methodCache } from '../../src/storage/method-cache.js';

class Counter {
  #n = 0;
  get n(): number {
    return this.#n;
  }
  add(by: number): number {
    return (this.#n += by);
  }
}

test("a method is read through the trap once and kept; a getter's value is read anew each time; the target gains nothing", (t) => {
  const target = new Counter();
  let reads = 0;
  const wrapped = methodCache(target, (obj, name) => {
    reads++;
    const value = Reflect.get(obj, name, obj);
    return typeof value === 'function' ? (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(obj, args) : value;
  });
  t.is(wrapped.add(2), 2);
  t.is(wrapped.add(3), 5);
  t.is(wrapped.add(1), 6);
  t.is(reads, 1, 'add was made once');
  t.is(wrapped.n, 6);
  t.is(wrapped.n, 6);
  t.is(reads, 3, 'the getter went to the target each time');
  t.deepEqual(Object.getOwnPropertyNames(target), [], 'the kept method lives on the wrapper, not on the target');
  t.true(wrapped instanceof Counter, "the target's prototype still answers instanceof");
});

test('names the reader answers with undefined (a thenable check) are asked again and never kept', async (t) => {
  let asked = 0;
  const wrapped = methodCache({} as Record<string, unknown>, (_, name) => {
    asked++;
    return name === 'then' ? undefined : () => name;
  });
  t.is(await Promise.resolve(wrapped), wrapped, 'not a thenable');
  t.is(wrapped['then'], undefined);
  t.is(asked, 2);
  t.false(Object.hasOwn(wrapped, 'then'));
});
