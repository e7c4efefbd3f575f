import { progressPublisher } from './move-progress.js';
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, isJobshardError, MoveAbortedError, UnitMovingError, UnitNotEmptyError } from '../storage/errors.js';
import { ACTIVE } from '../storage/ownership.js';
import type { Backend } from '../storage/storage.js';
import { EXPORT_BATCH, type UnitItem } from '../storage/unit-stream.js';
import { ID_MARKS_REF } from '../storage/id-marks.js';
import type { Lock } from '../storage/lock.js';
import { sleep } from '../storage/sleep.js';
import { placementOf, type DirectoryRecord, type MoveRecord } from './directory-record.js';
import { FLIP_FREEZE_MS } from './placement-change.js';
import type { Directory } from './directory.js';

/** How long the source stays frozen unless the mover renews it: a dead mover's freeze lapses this soon. */
export const MOVE_FREEZE_MS = 15_000;
/**
 * The mover renews the freeze this often, and gives up if a renewal comes
 * later than FREEZE_MARGIN before the deadline (the freeze may lapse before
 * the renewal lands, and writes land on the source that the copy lacks).
 */
const FREEZE_MARGIN_MS = 3_000;

/** copy: the snapshot (the unit is written as usual); catch-up: the changes made meanwhile; frozen: the last changes, writes refused; then the flip. */
export type MovePhase = 'start' | 'copy' | 'catch-up' | 'frozen' | 'flip' | 'cleanup' | 'done' | 'rolled-back' | 'failed';

/** Catch-up rounds stop when a round had this few changes, or after MAX_CATCH_UP_ROUNDS: the rest is copied frozen. */
const FINAL_CHANGES = 500;
const MAX_CATCH_UP_ROUNDS = 8;
const DEFAULT_COPY_SHARE = 0.5;
/** How far behind its copyRate a copy may catch up at once (ms of items at that rate). */
const RATE_BURST_MS = 100;

/** The lock (in the directory store's namespace) a mover holds while it lives. */
export const moveLockOf = (unit: string) => `move:${unit}`;

/** What a move handle reports while it runs. */
export interface MoveProgress {
  phase: MovePhase;
  /** The unit being moved now (a slot move moves several in turn). */
  unit: string | null;
  unitsDone: number;
  unitsTotal: number;
  jobsCopied: number;
  itemsCopied: number;
  /** Per unit moved: how long its writes were refused (freeze to flip), ms. */
  pausesMs: number[];
}

export interface MoveOptions {
  /** How long the source freeze lasts between renewals (ms, 1,000–60,000; default 15,000). A dead mover's unit is writable again this soon. */
  freezeMs?: number;
  /**
   * The share of time the copy before the freeze works (0.05–1, default 0.5); the rest it rests,
   * so the shards keep serving their other tenants. The frozen copy of the last changes never rests.
   */
  copyShare?: number;
  /**
   * The most items the copy before the freeze writes a second (an item: a job, a queue entry, a
   * hash, set, list or counter, a lock, a server; an enqueued job is two). Unset: no cap. With
   * copyShare, the copy rests for whichever asks the longer. A cap sets what the move costs the
   * shards' other tenants, whatever the backends: that cost follows the rate copied (bench:moves),
   * where the share of time a copy works copies more on a fast pair of backends than on a slow one.
   */
  copyRate?: number;
  /** Called after every phase change and copied batch. */
  onProgress?: (p: Readonly<MoveProgress>) => void;
}

export interface UnitMoveResult {
  unit: string;
  from: string;
  to: string;
  epoch: number;
  jobs: number;
  items: number;
  pauseMs: number;
}

function backendOf(dir: Directory, shard: string): Backend {
  const b = dir.backends(shard);
  if (!b) throw new InvalidArgumentError(`shard '${shard}' is not in this router's configuration; run moves from a router configured with every shard`);
  return b;
}

export function checkCopyShare(x: unknown): number {
  if (x === undefined) return DEFAULT_COPY_SHARE;
  if (typeof x !== 'number' || !(x >= 0.05 && x <= 1)) throw new InvalidArgumentError(`copyShare must be a number from 0.05 to 1, got ${String(x)}`);
  return x;
}

export function checkCopyRate(x: unknown): number | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 1)
    throw new InvalidArgumentError(`copyRate must be a number of items a second, at least 1, got ${String(x)}`);
  return x;
}

/** The pace options, checked before a move writes anything. */
export function checkPace(options: Pick<MoveOptions, 'copyShare' | 'copyRate'>): void {
  checkCopyShare(options.copyShare);
  checkCopyRate(options.copyRate);
}

export function checkFreezeMs(ms: unknown): number {
  if (ms === undefined) return MOVE_FREEZE_MS;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1_000 || ms > 60_000)
    throw new InvalidArgumentError(`freezeMs must be an integer from 1000 to 60000, got ${String(ms)}`);
  return ms;
}

/**
 * Moves one unit to `to`. The steps, each recorded in the directory before it acts:
 *   1. record the move (phase copy): a second move of the unit is refused from here on; the
 *      mover holds a lock in the directory store while it lives;
 *   2. mark the target `moved` back to the source, so nothing but the import writes there;
 *      start tracking the source's changes;
 *   3. copy a snapshot while the unit is written as usual, then catch up on the tracked
 *      changes in rounds until few are left (paced by copyShare and copyRate);
 *   4. freeze the source (renewed while it lasts) and copy the last changes;
 *   5. flip: the directory names the target (epoch + 1), the target becomes active and the
 *      source `moved` (phase flip, then cleanup);
 *   6. clear the source's copy, and drop the move record.
 * The writes of the unit pause only for 4 and 5. A failure before the flip undoes 1–4: the
 * unit stays where it was, whole. `place` edits the flip's record so the directory names
 * the target (a pin, or a slot table change).
 */
export async function moveUnit(
  dir: Directory,
  unit: string,
  to: string,
  options: MoveOptions,
  progress: MoveProgress,
  place: (next: DirectoryRecord, unit: string, to: string) => void,
  from?: string,
): Promise<UnitMoveResult> {
  const freezeMs = checkFreezeMs(options.freezeMs);
  checkPace(options);
  progress.unit = unit;
  const id = randomUUID();
  // Other processes (the dashboard) see the counts through the directory's namespace.
  const publish = progressPublisher(dir.store.storage, id);
  const caller = options.onProgress;
  options = {
    ...options,
    onProgress: (p) => {
      caller?.(p);
      publish(p);
    },
  };
  const report = (phase: MovePhase) => {
    progress.phase = phase;
    options.onProgress?.(progress);
  };
  // Taken before the record is written and held while this mover lives: whenever the record
  // exists in phase copy, a free lock means its mover died (recoverMoves).
  const alive = await dir.store.storage.locks.acquire(moveLockOf(unit), { timeoutMs: 0, ttlMs: freezeMs }).catch(async (err: unknown) => {
    if (!isJobshardError(err, 'LOCK_TIMEOUT')) throw err;
    await dir.refresh();
    const m = dir.record.moves.find((x) => x.unit === unit);
    throw new UnitMovingError(unit, m?.from ?? '(starting)', m?.to ?? '(starting)', m?.phase ?? 'start');
  });
  try {
    return await moveLocked(dir, id, unit, to, options, progress, place, from, freezeMs, alive, report);
  } finally {
    await alive.release().catch(() => {});
  }
}

async function moveLocked(
  dir: Directory,
  id: string,
  unit: string,
  to: string,
  options: MoveOptions,
  progress: MoveProgress,
  place: (next: DirectoryRecord, unit: string, to: string) => void,
  from: string | undefined,
  freezeMs: number,
  alive: Lock,
  report: (phase: MovePhase) => void,
): Promise<UnitMoveResult> {
  let source = '';
  const recorded = await dir.write((next) => {
    const busy = next.moves.find((m) => m.unit === unit);
    if (busy) throw new UnitMovingError(unit, busy.from, busy.to, busy.phase);
    source = from ?? placementOf(next).shardOfKey(unit);
    if (source === to) throw new InvalidArgumentError(`unit '${unit}' is already on shard '${to}'; nothing to move`);
    const now = Date.now();
    next.moves.push({ id, unit, from: source, to, phase: 'copy', startedAt: now, phaseAt: now, freezeMs });
    return true;
  });
  report('copy');
  const src = backendOf(dir, source);
  const dst = backendOf(dir, to);
  if (src === dst) return flipAndClean(dir, id, unit, source, to, place, progress, report, null, 0, 0);

  const margin = Math.min(FREEZE_MARGIN_MS, Math.floor(freezeMs / 3));
  const share = options.copyShare ?? DEFAULT_COPY_SHARE;
  const rate = options.copyRate;
  let frozenAt: number;
  let until = 0;
  let lapsed = false;
  let renewal: NodeJS.Timeout | undefined;
  let renewing: Promise<void> = Promise.resolve();
  let tracking = false;
  try {
    if (await dst.hasData(unit)) throw new UnitNotEmptyError(unit, to);
    // The mark of this move's epoch fences its import: a rollback re-marks the target at a later
    // epoch before clearing it, so this mover, if it only stalled, cannot write there afterwards.
    const fence = { epoch: recorded.epoch };
    await dst.setOwnership(unit, { state: 'moved', to: source, epoch: fence.epoch });
    await src.trackChanges(unit, true);
    tracking = true;
    const session = dst.beginImport(unit, fence);
    const count = (items: readonly UnitItem[]) => {
      for (const item of items) if (item.kind === 'job') progress.jobsCopied++;
      progress.itemsCopied += items.length;
      options.onProgress?.(progress);
      if (alive.signal.aborted) throw new MoveAbortedError(unit, 'this mover lost its move lock (it stalled past freezeMs)');
    };
    // Paced so the shards keep serving their other tenants: after each batch, rest in proportion to
    // its work, and, under a copyRate, until its items are due. A copy that fell behind its rate
    // (the mover stalled or starved) catches up by at most RATE_BURST_MS, not in one burst.
    let due = performance.now();
    let itemsPaced = progress.itemsCopied;
    const rest = async (t0: number) => {
      const now = performance.now();
      const byShare = share < 1 ? ((now - t0) * (1 - share)) / share : 0;
      let byRate = 0;
      if (rate !== undefined) {
        due = Math.max(due, now - RATE_BURST_MS) + ((progress.itemsCopied - itemsPaced) * 1000) / rate;
        itemsPaced = progress.itemsCopied;
        byRate = due - now;
      }
      const ms = Math.max(byShare, byRate);
      if (ms > 0) await sleep(ms);
    };
    const paced = async (work: () => Promise<void>) => {
      const t0 = performance.now();
      await work();
      await rest(t0);
    };

    // 1. The snapshot, while the unit is written as usual; every change it may miss is tracked.
    // Each batch's read from the source counts as work too: paced on its write alone, the copy
    // read at full speed and its share was about twice copyShare.
    const jobsBefore = progress.jobsCopied,
      itemsBefore = progress.itemsCopied;
    const batches = src.exportUnit(unit)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const t0 = performance.now();
        const next = await batches.next();
        if (next.done) break;
        await session.add(next.value);
        count(next.value);
        await rest(t0);
      }
    } finally {
      // As a for-await would: an export that holds a connection or a snapshot lets it go.
      await batches.return?.();
    }
    // 2. Catch up on the changes made meanwhile, until few are left.
    report('catch-up');
    for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
      const refs = await src.takeChanges(unit);
      if (refs.length === 0) break;
      await paced(async () => {
        for (let i = 0; i < refs.length; i += EXPORT_BATCH) {
          const items = await src.exportRefs(unit, refs.slice(i, i + EXPORT_BATCH));
          await session.replace(items);
          count(items);
        }
      });
      if (refs.length <= FINAL_CHANGES) break;
    }

    // 3. Freeze (writes begun before have finished when this returns), 4. copy the last changes.
    frozenAt = Date.now();
    until = frozenAt + freezeMs;
    await src.setOwnership(unit, { state: 'frozen', until });
    report('frozen');
    renewal = setInterval(
      () => {
        renewing = renewing
          .then(async () => {
            if (lapsed) return;
            if (Date.now() > until - margin) {
              lapsed = true;
              return;
            }
            const next = Date.now() + freezeMs;
            await src.setOwnership(unit, { state: 'frozen', until: next });
            until = next;
          })
          .catch(() => {
            lapsed = true;
          });
      },
      Math.max(100, Math.floor((freezeMs - margin) / 3)),
    );
    renewal.unref();
    // The id marks are read again under the freeze: ids drawn after the snapshot and deleted since are in them.
    const last = [...(await src.takeChanges(unit)), ID_MARKS_REF];
    for (let i = 0; i < last.length; i += EXPORT_BATCH) {
      if (lapsed) throw new MoveAbortedError(unit, 'the source freeze could not be renewed in time');
      const items = await src.exportRefs(unit, last.slice(i, i + EXPORT_BATCH));
      await session.replace(items);
      count(items);
    }
    await session.finish();
    if (lapsed || Date.now() > until - margin) throw new MoveAbortedError(unit, 'the copy outlasted the source freeze');
    // 5. Flip, 6. clean up. The freeze is renewed until the flip is recorded: stopped before the
    // directory write instead, the flip had margin / 2 (167 ms at freezeMs 1,000) to mark the source
    // moved, and past that the source took stale routers' writes that the target never got. Once
    // the flip is recorded, the renewals stop (one after the mark would overwrite it) and a last
    // freeze covers a mover that dies here: the router that finishes its flip waits out the
    // directory lock's lease first.
    const stopRenewal = async () => {
      clearInterval(renewal);
      await renewing;
      // Best effort: the flip is recorded, so it goes on; the last renewal's freeze still holds.
      await src.setOwnership(unit, { state: 'frozen', until: Date.now() + FLIP_FREEZE_MS }).catch(() => {});
    };
    const result = await flipAndClean(
      dir,
      id,
      unit,
      source,
      to,
      place,
      progress,
      report,
      frozenAt,
      progress.jobsCopied - jobsBefore,
      progress.itemsCopied - itemsBefore,
      () => (lapsed ? 0 : until - margin / 2),
      () => src.trackChanges(unit, false),
      stopRenewal,
    );
    return result;
  } catch (err) {
    clearInterval(renewal);
    await renewing;
    if ((err as { flipped?: boolean }).flipped) throw err;
    const undone = await rollBack(dir, id, unit, source, to, tracking).catch(() => true); // what is left, recoverMoves does
    if (!undone && tracking) await stopStaleTracking(dir, unit, source).catch(() => {});
    report('rolled-back');
    throw err instanceof MoveAbortedError || err instanceof UnitNotEmptyError ? err : new MoveAbortedError(unit, (err as Error).message, { cause: err });
  }
}

async function flipAndClean(
  dir: Directory,
  id: string,
  unit: string,
  from: string,
  to: string,
  place: (next: DirectoryRecord, unit: string, to: string) => void,
  progress: MoveProgress,
  report: (p: MovePhase) => void,
  frozenAt: number | null,
  jobs: number,
  items: number,
  flipBy: () => number = () => Infinity,
  stopTracking: () => Promise<void> = async () => {},
  beforeFlips?: () => Promise<void>,
): Promise<UnitMoveResult> {
  const record = await dir.write((next) => {
    const m = next.moves.find((x) => x.id === id);
    if (!m || m.phase !== 'copy') throw new MoveAbortedError(unit, 'its move record was rolled back by another router (the mover looked dead)');
    if (Date.now() > flipBy()) throw new MoveAbortedError(unit, 'the source freeze was about to lapse at the flip');
    place(next, unit, to);
    next.flips.push({ unit, from, to, epoch: next.epoch + 1 });
    m.phase = 'flip';
    m.phaseAt = Date.now();
    return true;
  }, beforeFlips);
  const epoch = record.epoch;
  const pauseMs = frozenAt === null ? 0 : Date.now() - frozenAt;
  progress.pausesMs.push(pauseMs);
  try {
    report('flip');
    await setPhase(dir, id, 'cleanup');
    report('cleanup');
    await stopTracking();
    if (frozenAt !== null) await backendOf(dir, from).clearUnit(unit);
    await dropMove(dir, id);
  } catch (err) {
    // Past the flip the unit lives on the target; what is left (the source's copy) any router finishes.
    Object.assign(err as object, { flipped: true });
    throw err;
  }
  progress.unitsDone++;
  return { unit, from, to, epoch, jobs, items, pauseMs };
}

async function setPhase(dir: Directory, id: string, phase: MoveRecord['phase']): Promise<void> {
  await dir.write((next) => {
    const m = next.moves.find((x) => x.id === id);
    if (!m || m.phase === phase) return false;
    m.phase = phase;
    m.phaseAt = Date.now();
    return true;
  });
}

/**
 * Undoes a move that has not flipped: tracking off, the source thawed, the target's partial copy
 * cleared, the record dropped. The record is first set to phase `rollback`, under the directory
 * lock and only from `copy`: a move that has flipped meanwhile (or whose record is gone) is left
 * alone, since clearing its target would delete the unit's live copy, and a mover that was only
 * stalled finds the record so at its flip and stops. A step that fails leaves the record in
 * `rollback`, so a later recoverMoves does the rest.
 */
async function rollBack(dir: Directory, id: string, unit: string, from: string, to: string, tracking: boolean): Promise<boolean> {
  if (!(await claimRollback(dir, id))) return false;
  const src = dir.backends(from);
  const dst = dir.backends(to);
  if (src && dst && src !== dst) {
    if (tracking) await src.trackChanges(unit, false);
    // Read after the claim: the freeze, if any, is this move's (a unit moves once at a time).
    if ((await src.ownership(unit)).state === 'frozen') await src.setOwnership(unit, ACTIVE);
    // Re-marked at the claim's epoch (or later), above the mark the move set: a mover that only
    // stalled finds its import fenced (ImportFence) and its own late mark ignored (isOlderMark),
    // so nothing lands on the target after the clear below.
    await dst.setOwnership(unit, { state: 'moved', to: from, epoch: dir.record.epoch });
    await dst.clearUnit(unit);
  }
  await dropMove(dir, id, 'rollback');
  return true;
}

/**
 * A mover that stalled past its lock and finds its move undone by another router may have turned
 * the source's change tracking on after the rollback turned it off (it resumed mid-start). Off
 * again, but only while no move of the unit is recorded and none can start: under its move lock.
 */
async function stopStaleTracking(dir: Directory, unit: string, from: string): Promise<void> {
  const lock = await dir.store.storage.locks.acquire(moveLockOf(unit), { timeoutMs: 0, ttlMs: MOVE_FREEZE_MS, autoRenew: false });
  try {
    await dir.refresh();
    if (!dir.record.moves.some((m) => m.unit === unit)) await dir.backends(from)?.trackChanges(unit, false);
  } finally {
    await lock.release();
  }
}

/** Sets the move's record to phase rollback if it is in copy; true if it is (now) in rollback. */
async function claimRollback(dir: Directory, id: string): Promise<boolean> {
  let claimed = false;
  await dir.write((next) => {
    const m = next.moves.find((x) => x.id === id);
    claimed = m?.phase === 'copy' || m?.phase === 'rollback';
    if (m?.phase !== 'copy') return false;
    m.phase = 'rollback';
    m.phaseAt = Date.now();
    return true;
  });
  return claimed;
}

/** Removes a move's record (only while it is in `phase`, when given). */
async function dropMove(dir: Directory, id: string, phase?: MoveRecord['phase']): Promise<void> {
  await dir.write((next) => {
    const before = next.moves.length;
    next.moves = next.moves.filter((x) => !(x.id === id && (phase === undefined || x.phase === phase)));
    return next.moves.length !== before;
  });
}

export interface RecoveredMove {
  unit: string;
  from: string;
  to: string;
  outcome: 'finished' | 'rolled-back' | 'running';
}

/**
 * Finishes or undoes moves whose mover died. A move in `copy` is undone once
 * its mover's lock is free (a live mover renews it; a dead one's lapses
 * within freezeMs): the target's partial copy is cleared, the source thawed
 * and no longer tracked. A mover that was only stalled finds its record gone
 * at the flip and stops. A move past its flip is finished: markers set, the
 * source's copy cleared, the record dropped. `staleMs`: how long a move must
 * have sat in flip or cleanup (0 for an operator's resumeMoves, more for
 * routers that notice on their own).
 */
export async function recoverMoves(dir: Directory, staleMs: number): Promise<RecoveredMove[]> {
  await dir.refresh();
  const out: RecoveredMove[] = [];
  for (const m of dir.record.moves) {
    const src = dir.backends(m.from);
    const dst = dir.backends(m.to);
    if (!src || !dst) continue;
    const now = Date.now();
    if (m.phase === 'copy') {
      let probe: Lock | null = null;
      try {
        probe = await dir.store.storage.locks.acquire(moveLockOf(m.unit), { timeoutMs: 0, ttlMs: m.freezeMs, autoRenew: false });
      } catch {
        /* held: the mover lives */
      }
      if (!probe) {
        out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'running' });
        continue;
      }
      // Held until the record is gone, so no new mover of this unit starts meanwhile. The record
      // read above may be stale: a move that finished since released this lock, and rollBack
      // then leaves it alone (its claim finds the record flipped or gone).
      const undone = await rollBack(dir, m.id, m.unit, m.from, m.to, true).finally(() => probe.release().catch(() => {}));
      if (undone) out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'rolled-back' });
      continue;
    }
    if (m.phase === 'rollback') {
      // A router died while undoing it: the steps are idempotent, so any router redoes them.
      if (now - m.phaseAt < staleMs) out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'running' });
      else if (await rollBack(dir, m.id, m.unit, m.from, m.to, true)) out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'rolled-back' });
      continue;
    }
    if (now - m.phaseAt < staleMs) {
      out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'running' });
      continue;
    }
    // The flip is in the directory; write the markers again (idempotent), then clean up.
    if (src !== dst) {
      await src.trackChanges(m.unit, false);
      await dst.setOwnership(m.unit, ACTIVE);
      const epoch = dir.record.epoch;
      const own = await src.ownership(m.unit);
      if (own.state !== 'moved') await src.setOwnership(m.unit, { state: 'moved', to: m.to, epoch });
      await src.clearUnit(m.unit);
    }
    await dropMove(dir, m.id);
    out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'finished' });
  }
  return out;
}
