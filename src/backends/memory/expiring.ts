/** Something that may lapse: expireAt is an epoch-ms deadline, or null for never. */
export interface Expiring {
  expireAt: number | null;
}

/** The live entry under key, dropping it first if it lapsed: expiry is exact on every read. */
export function live<T extends Expiring>(map: Map<string, T>, key: string, now = Date.now()): T | undefined {
  const entry = map.get(key);
  if (entry && entry.expireAt !== null && entry.expireAt <= now) {
    map.delete(key);
    return undefined;
  }
  return entry;
}

export function sweep<T extends Expiring>(map: Map<string, T>, now = Date.now()): void {
  for (const [key, entry] of map) if (entry.expireAt !== null && entry.expireAt <= now) map.delete(key);
}

export function ttlOf(entry: Expiring | undefined, now = Date.now()): number {
  return entry?.expireAt == null ? -1 : Math.max(0, entry.expireAt - now);
}
