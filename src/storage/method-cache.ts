/**
 * An object that reads its properties through `read(target, name)`, keeping each method it reads
 * as its own property. The proxy sits behind it as its prototype, so only a method's first read
 * goes through the proxy's trap; every later call is a plain property read. (A proxy in front
 * costs a trap per call on the hot path of every routed or wrapped storage call.) Anything that
 * is not a method (a getter's value) is read anew each time.
 */
export function methodCache<T extends object>(target: T, read: (target: T, name: string | symbol) => unknown): T {
  const proxy: T = new Proxy(target, {
    get(obj, name, receiver: object) {
      const value = read(obj, name);
      // Not on the proxy itself: that would define it on the target.
      if (typeof value === 'function' && typeof name === 'string' && receiver !== proxy) {
        Object.defineProperty(receiver, name, { value, configurable: true });
      }
      return value;
    },
  });
  return Object.create(proxy) as T;
}
