import { InvalidArgumentError, UnitNotEmptyError } from '../storage/errors.js';
import { ACTIVE } from '../storage/ownership.js';
import type { Backend } from '../storage/storage.js';
import { placementOf, type DirectoryRecord } from './directory-record.js';
import type { DirectoryStore } from './directory-store.js';

/**
 * How long a unit stays frozen on its old shard while its placement changes.
 * Longer than the directory lock's lease, so that when a writer dies after
 * writing the directory, another router can take the lock and finish the
 * flip before the freeze lapses.
 */
export const FLIP_FREEZE_MS = 15_000;

export type Backends = (shard: string) => Backend | undefined;

export interface Flip {
  unit: string;
  from: string;
  to: string;
  epoch: number;
}

/**
 * Writes `next` (a changed copy of `current`, epoch not yet bumped) as the
 * new directory, for changes that move no data: every unit whose shard
 * changes, and every unit in `mustBeEmpty`, must hold nothing. Call with the
 * directory lock held. The order makes a stale router harmless:
 *   1. freeze each changing unit on its old shard (writes begun before have finished when this returns);
 *   2. check it is empty there and on its new shard (else undo the freezes, UnitNotEmptyError);
 *   3. write the directory: epoch + 1, with the flips recorded;
 *   4. on each unit's new shard clear any old marker, then mark it `moved` on the old one;
 *   5. write the directory again without the flips.
 * A router that still routes by the old epoch meets `frozen` or `moved` and re-reads.
 */
export async function applyChange(
  store: DirectoryStore,
  backends: Backends,
  current: DirectoryRecord,
  next: DirectoryRecord,
  mustBeEmpty: readonly string[] = [],
): Promise<DirectoryRecord> {
  const before = placementOf(current);
  const after = placementOf(next);
  const keys = new Set([...Object.keys(current.pins), ...Object.keys(next.pins), ...mustBeEmpty]);
  const backendOf = (shard: string) => {
    const b = backends(shard);
    if (!b)
      throw new InvalidArgumentError(
        `shard '${shard}' is in the directory but not in this router's configuration; run admin calls from a router configured with every shard`,
      );
    return b;
  };
  const moves = [...keys].map((unit) => ({ unit, from: before.shardOfKey(unit), to: after.shardOfKey(unit) })).filter((m) => m.from !== m.to);
  // Two shard ids on one backend share the unit's namespace: nothing to fence.
  const cross = moves.filter((m) => backendOf(m.from) !== backendOf(m.to));

  const until = Date.now() + FLIP_FREEZE_MS;
  const frozen: typeof cross = [];
  try {
    for (const m of cross) {
      await backendOf(m.from).setOwnership(m.unit, { state: 'frozen', until });
      frozen.push(m);
    }
    const checks = new Map<string, [string, string]>();
    for (const unit of mustBeEmpty) checks.set(`${before.shardOfKey(unit)}\u0000${unit}`, [unit, before.shardOfKey(unit)]);
    for (const m of moves) for (const shard of [m.from, m.to]) checks.set(`${shard}\u0000${m.unit}`, [m.unit, shard]);
    for (const [unit, shard] of checks.values()) {
      if (await backendOf(shard).hasData(unit)) throw new UnitNotEmptyError(unit, shard);
    }
  } catch (err) {
    await Promise.allSettled(frozen.map((m) => backendOf(m.from).setOwnership(m.unit, ACTIVE)));
    throw err;
  }

  const epoch = current.epoch + 1;
  const written: DirectoryRecord = { ...next, epoch, flips: [...next.flips, ...cross.map((m) => ({ ...m, epoch }))], writtenAt: Date.now() };
  try {
    await store.write(written);
  } catch (err) {
    await Promise.allSettled(frozen.map((m) => backendOf(m.from).setOwnership(m.unit, ACTIVE)));
    throw err;
  }
  if (written.flips.length === 0) return written;
  await finishFlips(backendOf, written.flips);
  const done: DirectoryRecord = { ...written, flips: [] };
  await store.write(done);
  return done;
}

/** Sets the shard markers of flips already in the directory. Idempotent; call with the directory lock held. */
export async function finishFlips(backends: Backends, flips: readonly Flip[]): Promise<void> {
  for (const f of flips) {
    const to = backends(f.to);
    const from = backends(f.from);
    if (!to || !from) throw new InvalidArgumentError(`flip of '${f.unit}' names shard '${!to ? f.to : f.from}', which this router has no backend for`);
    if (to === from) continue;
    await to.setOwnership(f.unit, ACTIVE);
    await from.setOwnership(f.unit, { state: 'moved', to: f.to, epoch: f.epoch });
    // Wakes fetches waiting on the old shard, so they meet `moved` and follow at once.
    await from.signal(f.unit).catch(() => {});
  }
}
