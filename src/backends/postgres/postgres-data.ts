import type { DataStore, StructureKind } from '../../storage/data.js';
import { SQL } from './postgres-statements.js';
import type { Query } from './postgres-query.js';

export class PostgresData implements DataStore {
  constructor(
    readonly q: Query,
    readonly ns: string,
  ) {}

  async hashGetAll(key: string) {
    const { rows } = await this.q<{ field: string; value: string }>(SQL.hashGetAll, [this.ns, key]);
    return rows.length ? Object.fromEntries(rows.map((r) => [r.field, r.value])) : null;
  }
  async hashGet(key: string, field: string) {
    return (await this.q<{ value: string }>(SQL.hashGet, [this.ns, key, field])).rows[0]?.value ?? null;
  }
  async hashCount(key: string) {
    return (await this.q<{ n: number }>(SQL.hashCount, [this.ns, key])).rows[0]!.n;
  }
  async setAll(key: string) {
    return (await this.q<{ member: string }>(SQL.setAll, [this.ns, key])).rows.map((r) => r.member);
  }
  async setRange(key: string, start: number, end: number) {
    const limit = end === -1 ? null : Math.max(end - start + 1, 0);
    return (await this.q<{ member: string }>(SQL.setRange, [this.ns, key, start, limit])).rows.map((r) => r.member);
  }
  async setFirstByScore(key: string, fromScore: number, toScore: number, count: number) {
    return (await this.q<{ member: string }>(SQL.setFirstByScore, [this.ns, key, fromScore, toScore, count])).rows.map((r) => r.member);
  }
  async setCount(key: string) {
    return (await this.q<{ n: number }>(SQL.setCount, [this.ns, key])).rows[0]!.n;
  }
  async setContains(key: string, member: string) {
    return (await this.setScore(key, member)) !== null;
  }
  async setScore(key: string, member: string) {
    return (await this.q<{ score: number }>(SQL.setScore, [this.ns, key, member])).rows[0]?.score ?? null;
  }
  async listAll(key: string) {
    return this.listRange(key, 0, -1);
  }
  async listRange(key: string, start: number, end: number) {
    const limit = end === -1 ? null : Math.max(end - start + 1, 0);
    return (await this.q<{ value: string }>(SQL.listRange, [this.ns, key, start, limit])).rows.map((r) => r.value);
  }
  async listCount(key: string) {
    return (await this.q<{ n: number }>(SQL.listCount, [this.ns, key])).rows[0]!.n;
  }
  async counterGet(key: string) {
    return Number((await this.q<{ value: string }>(SQL.counterGet, [this.ns, key])).rows[0]?.value ?? 0);
  }
  async ttl(kind: StructureKind, key: string) {
    const row = (await this.q<{ at: Date | null; now: Date; n: number }>(SQL.ttl[kind], [this.ns, key])).rows[0]!;
    return row.n === 0 || row.at === null ? -1 : Math.max(0, row.at.getTime() - row.now.getTime());
  }
}
