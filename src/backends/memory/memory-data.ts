import type { DataStore, StructureKind } from '../../storage/data.js';
import { live, sweep, ttlOf, type Expiring } from './expiring.js';
import type { UnitItem } from '../../storage/unit-stream.js';

interface HashEntry extends Expiring {
  fields: Map<string, string>;
}
interface SetEntry extends Expiring {
  members: Map<string, number>;
}
interface ListEntry extends Expiring {
  items: string[];
}
interface CounterEntry extends Expiring {
  value: number;
}

/** Data structures of one namespace. Reads are the DataStore; writes are called from a committing transaction. */
export class MemoryData implements DataStore {
  readonly hashes = new Map<string, HashEntry>();
  readonly sets = new Map<string, SetEntry>();
  readonly lists = new Map<string, ListEntry>();
  readonly counters = new Map<string, CounterEntry>();

  /** True when any structure is live. */
  hasData(now = Date.now()): boolean {
    for (const map of [this.hashes, this.sets, this.lists, this.counters] as Array<Map<string, Expiring>>) {
      for (const key of [...map.keys()]) if (live(map, key, now)) return true;
    }
    return false;
  }

  async hashGetAll(key: string) {
    const h = live(this.hashes, key);
    return h ? Object.fromEntries(h.fields) : null;
  }
  async hashGet(key: string, field: string) {
    return live(this.hashes, key)?.fields.get(field) ?? null;
  }
  async hashCount(key: string) {
    return live(this.hashes, key)?.fields.size ?? 0;
  }
  async setAll(key: string) {
    return this.#sorted(key);
  }
  async setRange(key: string, start: number, end: number) {
    const all = this.#sorted(key);
    return all.slice(start, end === -1 ? undefined : end + 1);
  }
  async setFirstByScore(key: string, fromScore: number, toScore: number, count: number) {
    const s = live(this.sets, key);
    if (!s) return [];
    return this.#sorted(key)
      .filter((m) => {
        const score = s.members.get(m)!;
        return score >= fromScore && score <= toScore;
      })
      .slice(0, count);
  }
  async setCount(key: string) {
    return live(this.sets, key)?.members.size ?? 0;
  }
  async setContains(key: string, member: string) {
    return live(this.sets, key)?.members.has(member) ?? false;
  }
  async setScore(key: string, member: string) {
    return live(this.sets, key)?.members.get(member) ?? null;
  }
  async listAll(key: string) {
    return [...(live(this.lists, key)?.items ?? [])];
  }
  async listRange(key: string, start: number, end: number) {
    return (live(this.lists, key)?.items ?? []).slice(start, end === -1 ? undefined : end + 1);
  }
  async listCount(key: string) {
    return live(this.lists, key)?.items.length ?? 0;
  }
  async counterGet(key: string) {
    return live(this.counters, key)?.value ?? 0;
  }
  async ttl(kind: StructureKind, key: string) {
    return ttlOf(live(this.#map(kind), key));
  }

  #sorted(key: string): string[] {
    const s = live(this.sets, key);
    if (!s) return [];
    // Same order as Redis and the Postgres backend: score, then member by code unit.
    return [...s.members].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([m]) => m);
  }

  #map(kind: StructureKind): Map<string, Expiring> {
    switch (kind) {
      case 'hash':
        return this.hashes;
      case 'set':
        return this.sets;
      case 'list':
        return this.lists;
      case 'counter':
        return this.counters;
    }
  }

  // --- writes, applied by a committing transaction (already validated) ---

  hashSet(key: string, fields: Record<string, string>): void {
    let h = live(this.hashes, key);
    if (!h) this.hashes.set(key, (h = { fields: new Map(), expireAt: null }));
    for (const [f, v] of Object.entries(fields)) h.fields.set(f, v);
  }
  hashDelete(key: string): void {
    this.hashes.delete(key);
  }
  setAdd(key: string, member: string, score: number): void {
    let s = live(this.sets, key);
    if (!s) this.sets.set(key, (s = { members: new Map(), expireAt: null }));
    s.members.set(member, score);
  }
  setRemove(key: string, member: string): void {
    const s = live(this.sets, key);
    if (!s) return;
    s.members.delete(member);
    if (s.members.size === 0) this.sets.delete(key);
  }
  setDelete(key: string): void {
    this.sets.delete(key);
  }
  listInsert(key: string, value: string): void {
    let l = live(this.lists, key);
    if (!l) this.lists.set(key, (l = { items: [], expireAt: null }));
    l.items.unshift(value);
  }
  listRemove(key: string, value: string): void {
    const l = live(this.lists, key);
    if (!l) return;
    l.items = l.items.filter((v) => v !== value);
    if (l.items.length === 0) this.lists.delete(key);
  }
  listTrim(key: string, start: number, end: number): void {
    const l = live(this.lists, key);
    if (!l) return;
    l.items = l.items.slice(start, end === -1 ? undefined : end + 1);
    if (l.items.length === 0) this.lists.delete(key);
  }
  listDelete(key: string): void {
    this.lists.delete(key);
  }
  counterIncrement(key: string, by: number, expireInMs: number | null, now: number): void {
    let c = live(this.counters, key);
    if (!c) this.counters.set(key, (c = { value: 0, expireAt: null }));
    c.value += by;
    if (expireInMs !== null) c.expireAt = now + expireInMs;
  }
  expire(kind: StructureKind, key: string, ms: number, now: number): void {
    const e = live(this.#map(kind), key);
    if (e) e.expireAt = now + ms;
  }
  persist(kind: StructureKind, key: string): void {
    const e = live(this.#map(kind), key);
    if (e) e.expireAt = null;
  }

  /** Every live structure as export items. */
  exportItems(now = Date.now()): UnitItem[] {
    const out: UnitItem[] = [];
    for (const key of [...this.hashes.keys()]) {
      const h = live(this.hashes, key, now);
      if (h) out.push({ kind: 'hash', key, fields: Object.fromEntries(h.fields), expireAt: h.expireAt });
    }
    for (const key of [...this.sets.keys()]) {
      const z = live(this.sets, key, now);
      if (z) out.push({ kind: 'set', key, members: [...z.members], expireAt: z.expireAt });
    }
    for (const key of [...this.lists.keys()]) {
      const l = live(this.lists, key, now);
      if (l) out.push({ kind: 'list', key, values: [...l.items], expireAt: l.expireAt });
    }
    for (const key of [...this.counters.keys()]) {
      const c = live(this.counters, key, now);
      if (c) out.push({ kind: 'counter', key, value: c.value, expireAt: c.expireAt });
    }
    return out;
  }

  /** Writes one imported structure (the namespace was empty: nothing to merge with). */
  importItem(item: UnitItem): void {
    switch (item.kind) {
      case 'hash':
        this.hashes.set(item.key, { fields: new Map(Object.entries(item.fields)), expireAt: item.expireAt });
        break;
      case 'set':
        this.sets.set(item.key, { members: new Map(item.members), expireAt: item.expireAt });
        break;
      case 'list':
        this.lists.set(item.key, { items: [...item.values], expireAt: item.expireAt });
        break;
      case 'counter':
        this.counters.set(item.key, { value: item.value, expireAt: item.expireAt });
        break;
      default:
        break;
    }
  }

  /** One structure as an export item (ref `h: z: l: c:` + key), or null when it does not exist. */
  exportItem(ref: string, now = Date.now()): UnitItem | null {
    const key = ref.slice(2);
    switch (ref[0]) {
      case 'h': {
        const h = live(this.hashes, key, now);
        return h ? { kind: 'hash', key, fields: Object.fromEntries(h.fields), expireAt: h.expireAt } : null;
      }
      case 'z': {
        const z = live(this.sets, key, now);
        return z ? { kind: 'set', key, members: [...z.members], expireAt: z.expireAt } : null;
      }
      case 'l': {
        const l = live(this.lists, key, now);
        return l ? { kind: 'list', key, values: [...l.items], expireAt: l.expireAt } : null;
      }
      case 'c': {
        const c = live(this.counters, key, now);
        return c ? { kind: 'counter', key, value: c.value, expireAt: c.expireAt } : null;
      }
      default:
        return null;
    }
  }

  forget(kind: StructureKind, key: string): void {
    this.#map(kind).delete(key);
  }

  clear(): void {
    this.hashes.clear();
    this.sets.clear();
    this.lists.clear();
    this.counters.clear();
  }

  sweep(now: number): void {
    sweep(this.hashes, now);
    sweep(this.sets, now);
    sweep(this.lists, now);
    sweep(this.counters, now);
  }
}
