/** An HGETALL list as an object: own properties even for a name like "__proto__" (assignment would drop it). */
export function fromPairs(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i]!;
    if (k === '__proto__') Object.defineProperty(out, k, { value: list[i + 1], enumerable: true, writable: true, configurable: true });
    else out[k] = list[i + 1]!;
  }
  return out;
}
