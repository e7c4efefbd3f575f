import calculateSlot from 'cluster-key-slot';

/** Redis Cluster's slot space: CRC16 of the key (or of its {hash tag}) mod 16384. */
export const SLOT_COUNT = 16_384;

// CRC16/XMODEM table (polynomial 0x1021), the checksum Redis Cluster hashes keys with.
const CRC16 = new Uint16Array(256).map((_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

/**
 * The Redis Cluster slot of a key made only of ASCII characters, without
 * allocating: placement keys (tenant ids, `tenant:group`) always are, and
 * cluster-key-slot builds a UTF-8 byte array on every call, which the
 * routing hot path must not. Returns undefined for anything else (non-ASCII
 * or a {hash tag}), which goes to cluster-key-slot. Property-tested to agree
 * with it.
 */
function asciiSlot(key: string): number | undefined {
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 127 || c === 123 /* { */) return undefined;
    crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ c) & 0xff]!;
  }
  return crc & (SLOT_COUNT - 1);
}

export interface WeightedShard {
  id: string;
  weight: number;
}

/**
 * Maps each of the 16,384 slots to a shard. The table is derived from the
 * ordered shard list alone, by replaying "add shard" steps: the first shard
 * owns everything, and each next shard takes its weighted quota from the
 * shards holding the most slots above their own new quota. So every process
 * that loads the same configuration routes identically, and appending a
 * shard to the list moves exactly the slots the new shard takes over (the
 * ideal fraction), never a slot between two old shards.
 */
export class SlotTable {
  /** Shard ids, indexed by the numbers stored in `owners`. */
  readonly shards: readonly string[];
  /** owners[slot] = index into `shards`. */
  readonly owners: Uint16Array;
  /** Changes whenever the mapping changes; routers compare versions, not tables. */
  readonly version: string;

  private constructor(shards: readonly string[], owners: Uint16Array) {
    this.shards = shards;
    this.owners = owners;
    this.version = fingerprint(shards, owners);
  }

  /**
   * A table as the directory stores it: runs of [shard id, slot count] in
   * slot order. Shards listed in `shards` may own no slots (a new shard).
   */
  static fromRuns(shards: readonly string[], runs: ReadonlyArray<readonly [string, number]>): SlotTable {
    const index = new Map(shards.map((id, i) => [id, i]));
    if (index.size !== shards.length) throw new Error('duplicate shard id in a slot table');
    const owners = new Uint16Array(SLOT_COUNT);
    let at = 0;
    for (const [id, count] of runs) {
      const i = index.get(id);
      if (i === undefined) throw new Error(`slot run names unknown shard '${id}'`);
      if (!Number.isSafeInteger(count) || count <= 0 || at + count > SLOT_COUNT) throw new Error(`bad slot run [${id}, ${count}] at slot ${at}`);
      owners.fill(i, at, at + count);
      at += count;
    }
    if (at !== SLOT_COUNT) throw new Error(`slot runs cover ${at} of ${SLOT_COUNT} slots`);
    return new SlotTable(shards, owners);
  }

  /** The same table with `shard` appended to the list, owning no slots. */
  withShard(shard: string): SlotTable {
    if (this.shards.includes(shard)) return this;
    return new SlotTable([...this.shards, shard], this.owners);
  }

  /** The same table without `shard`, which must own no slots. */
  withoutShard(shard: string): SlotTable {
    const i = this.shards.indexOf(shard);
    if (i < 0) return this;
    if (this.owners.includes(i)) throw new Error(`shard '${shard}' still owns slots`);
    const shards = this.shards.filter((id) => id !== shard);
    return SlotTable.fromRuns(shards, this.runs());
  }

  /** The same table with `slots` owned by `shard` (which must be listed). */
  reassign(slots: Iterable<number>, shard: string): SlotTable {
    const i = this.shards.indexOf(shard);
    if (i < 0) throw new Error(`unknown shard '${shard}'`);
    const owners = this.owners.slice();
    for (const slot of slots) owners[slot] = i;
    return new SlotTable(this.shards, owners);
  }

  /** The slots `shard` owns, ascending. */
  slotsOf(shard: string): number[] {
    const i = this.shards.indexOf(shard);
    const out: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (this.owners[slot] === i) out.push(slot);
    return out;
  }

  /** Runs of [shard id, slot count] in slot order: the stored form. */
  runs(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const o of this.owners) {
      const id = this.shards[o]!;
      const last = out.at(-1);
      if (last && last[0] === id) last[1]++;
      else out.push([id, 1]);
    }
    return out;
  }

  /** Spreads the slots over the shards by weight, in runs (the table a new directory starts with). */
  static build(list: readonly WeightedShard[]): SlotTable {
    if (list.length === 0) throw new Error('a slot table needs at least one shard');
    if (list.length > 65_535) throw new Error('at most 65,535 shards');
    const owners = new Uint16Array(SLOT_COUNT); // everything starts on shard 0
    for (let n = 1; n < list.length; n++) {
      const quotas = quotasFor(list.slice(0, n + 1));
      const counts = new Array<number>(n + 1).fill(0);
      for (const o of owners) counts[o]!++;
      // Donors give up exactly their surplus; the new shard (index n) takes it, lowest slots of each donor first.
      const surplus = counts.map((c, i) => (i === n ? 0 : Math.max(0, c - quotas[i]!)));
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        const o = owners[slot]!;
        if (surplus[o]! > 0) {
          surplus[o]!--;
          owners[slot] = n;
        }
      }
    }
    return new SlotTable(
      list.map((s) => s.id),
      owners,
    );
  }

  /** The slot of a placement key (tenant id or tenant:group), as Redis Cluster computes it. */
  static slotOf(key: string): number {
    return asciiSlot(key) ?? calculateSlot(key);
  }

  /** The shard owning the slot of a unit key (`tenant` or `tenant:group`). */
  shardOf(key: string): string {
    return this.shards[this.owners[SlotTable.slotOf(key)]!]!;
  }

  /** Slots per shard id. */
  counts(): Map<string, number> {
    const out = new Map(this.shards.map((id) => [id, 0]));
    for (const o of this.owners) {
      const id = this.shards[o]!;
      out.set(id, out.get(id)! + 1);
    }
    return out;
  }
}

/** Slot quotas proportional to weight, rounded by largest remainder so they sum to SLOT_COUNT exactly. */
export function quotasFor(list: readonly WeightedShard[]): number[] {
  const total = list.reduce((a, s) => a + s.weight, 0);
  const exact = list.map((s) => (s.weight / total) * SLOT_COUNT);
  const quotas = exact.map(Math.floor);
  let left = SLOT_COUNT - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (left-- <= 0) break;
    quotas[i]!++;
  }
  return quotas;
}

function fingerprint(shards: readonly string[], owners: Uint16Array): string {
  // FNV-1a over the mapping: cheap, stable across processes.
  let h = 0x811c9dc5;
  const mix = (byte: number) => {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const id of shards) for (let i = 0; i < id.length; i++) mix(id.charCodeAt(i) & 0xff);
  for (const o of owners) {
    mix(o & 0xff);
    mix(o >> 8);
  }
  return h.toString(16).padStart(8, '0');
}
