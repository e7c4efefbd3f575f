import type { DataStore, StructureKind } from '../storage/data.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { TenantContext } from './tenant-context.js';

/**
 * Data reads of a split tenant. A transaction's data writes go to the unit
 * of its jobs, so a structure can have parts on several units; reads combine
 * them: counters add up, sorted sets merge by score (then member), hashes
 * merge fields (home wins a clash), lists concatenate unit by unit (home
 * first; newest-first order holds within each unit). For a tenant that is
 * not split, every read is the home unit's, exactly as on a backend.
 */
export class RoutedData implements DataStore {
  constructor(readonly ctx: TenantContext) {}

  #all<T>(read: (d: DataStore) => Promise<T>): Promise<T[]> {
    return Promise.all(this.ctx.units.map((u) => read(this.ctx.storageOf(u).data)));
  }

  async hashGetAll(key: string) {
    const parts = (await this.#all((d) => d.hashGetAll(key))).filter((h): h is Record<string, string> => h !== null);
    // From entries, not Object.assign: assigning a field named "__proto__" would drop it.
    return parts.length ? Object.fromEntries(parts.reverse().flatMap((h) => Object.entries(h))) : null;
  }
  async hashGet(key: string, field: string) {
    return (await this.#all((d) => d.hashGet(key, field))).find((v) => v !== null) ?? null;
  }
  async hashCount(key: string) {
    const all = await this.hashGetAll(key);
    return all ? Object.keys(all).length : 0;
  }

  async #scored(key: string): Promise<Array<[string, number]>> {
    const members = await this.#all(async (d) => {
      const ms = await d.setAll(key);
      return Promise.all(ms.map(async (m) => [m, (await d.setScore(key, m))!] as [string, number]));
    });
    const best = new Map<string, number>();
    for (const [m, s] of members.flat()) if (!best.has(m) || s < best.get(m)!) best.set(m, s);
    return [...best].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  async setAll(key: string) {
    if (!this.ctx.split) return this.ctx.storageOf(this.ctx.home).data.setAll(key);
    return (await this.#scored(key)).map(([m]) => m);
  }
  async setRange(key: string, start: number, end: number) {
    if (!this.ctx.split) return this.ctx.storageOf(this.ctx.home).data.setRange(key, start, end);
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < -1) throw new InvalidArgumentError('start must be >= 0 and end >= -1');
    return (await this.setAll(key)).slice(start, end === -1 ? undefined : end + 1);
  }
  async setFirstByScore(key: string, fromScore: number, toScore: number, count = 1) {
    const parts = await this.#all((d) => d.setFirstByScore(key, fromScore, toScore, count));
    if (!this.ctx.split) return parts[0]!;
    const wanted = new Set(parts.flat());
    return (await this.#scored(key))
      .filter(([m]) => wanted.has(m))
      .slice(0, count)
      .map(([m]) => m);
  }
  async setCount(key: string) {
    if (!this.ctx.split) return this.ctx.storageOf(this.ctx.home).data.setCount(key);
    return (await this.setAll(key)).length;
  }
  async setContains(key: string, member: string) {
    return (await this.#all((d) => d.setContains(key, member))).some(Boolean);
  }
  async setScore(key: string, member: string) {
    const scores = (await this.#all((d) => d.setScore(key, member))).filter((s): s is number => s !== null);
    return scores.length ? Math.min(...scores) : null;
  }

  async listAll(key: string) {
    return (await this.#all((d) => d.listAll(key))).flat();
  }
  async listRange(key: string, start: number, end: number) {
    if (!this.ctx.split) return this.ctx.storageOf(this.ctx.home).data.listRange(key, start, end);
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < -1) throw new InvalidArgumentError('start must be >= 0 and end >= -1');
    return (await this.listAll(key)).slice(start, end === -1 ? undefined : end + 1);
  }
  async listCount(key: string) {
    return (await this.#all((d) => d.listCount(key))).reduce((a, b) => a + b, 0);
  }

  async counterGet(key: string) {
    return (await this.#all((d) => d.counterGet(key))).reduce((a, b) => a + b, 0);
  }
  async ttl(kind: StructureKind, key: string) {
    const ttls = (await this.#all((d) => d.ttl(kind, key))).filter((t) => t >= 0);
    return ttls.length ? Math.max(...ttls) : -1;
  }
}
