/** Each kind has its own key space: a hash and a list may share a key. */
export type StructureKind = 'hash' | 'set' | 'list' | 'counter';

/**
 * Reads of the data structures (writes go through `storage.transaction`).
 * A missing or expired structure reads as empty, except `hashGetAll`, which
 * returns null so callers can tell "removed" from "empty".
 */
export interface DataStore {
  /** Every field of a hash; null when the hash is missing or expired. */
  hashGetAll(key: string): Promise<Record<string, string> | null>;
  /** One field of a hash, or null. */
  hashGet(key: string, field: string): Promise<string | null>;
  /** How many fields a hash has. */
  hashCount(key: string): Promise<number>;

  /** Sorted sets: members ordered by score ascending, ties by member. */
  setAll(key: string): Promise<string[]>;
  /** Members at ranks start..end inclusive (0-based, ascending score; end -1 = the last). */
  setRange(key: string, start: number, end: number): Promise<string[]>;
  /** Up to `count` members with fromScore <= score <= toScore, lowest score first. */
  setFirstByScore(key: string, fromScore: number, toScore: number, count?: number): Promise<string[]>;
  /** How many members a sorted set has. */
  setCount(key: string): Promise<number>;
  /** Whether a sorted set holds the member. */
  setContains(key: string, member: string): Promise<boolean>;
  /** A member's score, or null when the set does not hold it. */
  setScore(key: string, member: string): Promise<number | null>;

  /** Lists are newest first: index 0 is the last inserted value. */
  listAll(key: string): Promise<string[]>;
  /** Items start..end inclusive (0-based, newest first; end -1 = the last). */
  listRange(key: string, start: number, end: number): Promise<string[]>;
  /** How many items a list has. */
  listCount(key: string): Promise<number>;

  /** A counter's value (0 when missing or expired). */
  counterGet(key: string): Promise<number>;

  /** Milliseconds until the structure expires; -1 if it has no expiry or does not exist. */
  ttl(kind: StructureKind, key: string): Promise<number>;
}
