import { createHash } from 'node:crypto';

/**
 * Key layout: `<prefix>{<namespace>}:<kind>:<name>`. The braces make the
 * namespace the Redis Cluster hash tag, so all of a namespace's keys live in
 * one slot and every multi-key script works on a Cluster too.
 */
export class RedisKeys {
  readonly base: string;
  /** A key of the namespace passed as KEYS[1] so Cluster routes scripts to its slot. */
  readonly route: string;
  readonly wakeChannel: string;
  /** Job ids end in this tag, so an id from another namespace is recognised as foreign. */
  readonly idTag: string;
  /** The unit's ownership record (common.lua refusal()). */
  readonly ownership: string;

  constructor(
    prefix: string,
    readonly namespace: string,
  ) {
    this.base = `${prefix}{${namespace}}:`;
    this.ownership = `${this.base}own`;
    this.route = `${this.base}meta`;
    this.wakeChannel = `${prefix}wake:${namespace}`;
    this.idTag = createHash('sha256').update(namespace).digest('hex').slice(0, 10);
  }

  hash(key: string): string {
    return `${this.base}h:${key}`;
  }
  set(key: string): string {
    return `${this.base}z:${key}`;
  }
  list(key: string): string {
    return `${this.base}l:${key}`;
  }
  counter(key: string): string {
    return `${this.base}c:${key}`;
  }
  lock(resource: string): string {
    return `${this.base}lock:${resource}`;
  }
  fence(resource: string): string {
    return `${this.base}fence:${resource}`;
  }

  /**
   * Native ids are "<n>.<tag>". A unit moved here keeps its jobs' ids, which
   * may be another backend's plain "<n>": those are accepted too (they
   * cannot repeat a native id, which always has the tag).
   */
  ownsJobId(id: string): boolean {
    const dot = id.lastIndexOf('.');
    if (dot === -1) return /^[1-9]\d*$/.test(id);
    return dot > 0 && /^[1-9]\d*$/.test(id.slice(0, dot)) && id.slice(dot + 1) === this.idTag;
  }
}

/**
 * Whether a key (its name after the namespace's base) holds the unit's data. Bookkeeping that
 * outlives the data counts too: an id or fencing counter restarted elsewhere would reuse ids and tokens.
 */
export const isDataKey = (name: string): boolean => DATA_KEY.test(name);
const DATA_KEY = /^(job:|q:|ql:|h:|z:|l:|c:|lock:|fence:|seq:|servers$)/;
