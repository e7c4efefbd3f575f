import type { Cluster, Redis } from 'ioredis';
import type { DataStore, StructureKind } from '../../storage/data.js';
import type { RedisKeys } from './redis-keys.js';

/** Runs a command on the backend's client (opening it first) with connection errors mapped. */
export type RunCommand = <T>(fn: (client: Redis | Cluster) => Promise<T>) => Promise<T>;

const bound = (n: number) => (n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n));

/** Reads map one-to-one onto native commands; every structure is a native Redis type. */
export class RedisData implements DataStore {
  constructor(
    readonly run: RunCommand,
    readonly keys: RedisKeys,
  ) {}

  async hashGetAll(key: string) {
    const h = await this.run((c) => c.hgetall(this.keys.hash(key)));
    return Object.keys(h).length ? h : null;
  }
  hashGet(key: string, field: string) {
    return this.run((c) => c.hget(this.keys.hash(key), field));
  }
  hashCount(key: string) {
    return this.run((c) => c.hlen(this.keys.hash(key)));
  }
  setAll(key: string) {
    return this.run((c) => c.zrange(this.keys.set(key), 0, -1));
  }
  setRange(key: string, start: number, end: number) {
    return this.run((c) => c.zrange(this.keys.set(key), start, end));
  }
  setFirstByScore(key: string, fromScore: number, toScore: number, count: number) {
    return this.run((c) => c.zrangebyscore(this.keys.set(key), bound(fromScore), bound(toScore), 'LIMIT', 0, count));
  }
  setCount(key: string) {
    return this.run((c) => c.zcard(this.keys.set(key)));
  }
  async setContains(key: string, member: string) {
    return (await this.setScore(key, member)) !== null;
  }
  async setScore(key: string, member: string) {
    const s = await this.run((c) => c.zscore(this.keys.set(key), member));
    return s === null ? null : Number(s);
  }
  listAll(key: string) {
    return this.run((c) => c.lrange(this.keys.list(key), 0, -1));
  }
  listRange(key: string, start: number, end: number) {
    return this.run((c) => c.lrange(this.keys.list(key), start, end));
  }
  listCount(key: string) {
    return this.run((c) => c.llen(this.keys.list(key)));
  }
  async counterGet(key: string) {
    return Number((await this.run((c) => c.get(this.keys.counter(key)))) ?? 0);
  }
  async ttl(kind: StructureKind, key: string) {
    const k = { hash: this.keys.hash(key), set: this.keys.set(key), list: this.keys.list(key), counter: this.keys.counter(key) }[kind];
    const ms = await this.run((c) => c.pttl(k));
    return ms < 0 ? -1 : ms; // -2 (missing) and -1 (no expiry) both read as -1
  }
}
