import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, MoveAbortedError, UnitMovingError, UnitNotEmptyError } from '../storage/errors.js';
import { ACTIVE } from '../storage/ownership.js';
import type { Backend } from '../storage/storage.js';
import type { UnitItem } from '../storage/unit-stream.js';
import { placementOf, type DirectoryRecord, type MoveRecord } from './directory-record.js';
import type { Directory } from './directory.js';

/** How long the source stays frozen unless the mover renews it: a dead mover's freeze lapses this soon. */
export const MOVE_FREEZE_MS = 15_000;
/**
 * The mover renews the freeze this often, and gives up if a renewal comes
 * later than FREEZE_MARGIN before the deadline (the freeze may lapse before
 * the renewal lands, and writes land on the source that the copy lacks).
 */
const FREEZE_MARGIN_MS = 3_000;

export type MovePhase = 'start' | 'copy' | 'flip' | 'cleanup' | 'done' | 'rolled-back' | 'failed';

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

export function checkFreezeMs(ms: unknown): number {
  if (ms === undefined) return MOVE_FREEZE_MS;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1_000 || ms > 60_000) throw new InvalidArgumentError(`freezeMs must be an integer from 1000 to 60000, got ${String(ms)}`);
  return ms;
}

/**
 * Moves one unit to `to`. The steps, each recorded in the directory before it acts:
 *   1. record the move (phase copy): a second move of the unit is refused from here on;
 *   2. mark the target `moved` back to the source, so nothing but the import writes there;
 *   3. freeze the source (renewed while copying), export it and import it on the target;
 *   4. flip: the directory names the target (epoch + 1), the target becomes active and the
 *      source `moved` (phase flip, then cleanup);
 *   5. clear the source's copy, and drop the move record.
 * A failure before the flip undoes 1–3: the unit stays where it was, whole. `place` edits
 * the flip's record so the directory names the target (a pin, or a slot table change).
 */
export async function moveUnit(dir: Directory, unit: string, to: string, options: MoveOptions, progress: MoveProgress,
  place: (next: DirectoryRecord, unit: string, to: string) => void, from?: string): Promise<UnitMoveResult> {
  const freezeMs = checkFreezeMs(options.freezeMs);
  const report = (phase: MovePhase) => {
    progress.phase = phase;
    options.onProgress?.(progress);
  };
  progress.unit = unit;
  const id = randomUUID();
  let source = '';
  await dir.write((next) => {
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
  let frozenAt = 0;
  let until = 0;
  let lapsed = false;
  let renewal: NodeJS.Timeout | undefined;
  let renewing: Promise<void> = Promise.resolve();
  try {
    if (await dst.hasData(unit)) throw new UnitNotEmptyError(unit, to);
    await dst.setOwnership(unit, { state: 'moved', to: source, epoch: dir.record.epoch });
    frozenAt = Date.now();
    until = frozenAt + freezeMs;
    await src.setOwnership(unit, { state: 'frozen', until });
    renewal = setInterval(() => {
      renewing = renewing.then(async () => {
        if (lapsed) return;
        if (Date.now() > until - margin) {
          lapsed = true;
          return;
        }
        const next = Date.now() + freezeMs;
        await src.setOwnership(unit, { state: 'frozen', until: next });
        until = next;
      }).catch(() => {
        lapsed = true;
      });
    }, Math.max(100, Math.floor((freezeMs - margin) / 3)));
    renewal.unref();

    const counted = async function* (batches: AsyncIterable<UnitItem[]>) {
      for await (const batch of batches) {
        if (lapsed) throw new MoveAbortedError(unit, 'the source freeze could not be renewed in time');
        for (const item of batch) if (item.kind === 'job') progress.jobsCopied++;
        progress.itemsCopied += batch.length;
        yield batch;
        options.onProgress?.(progress);
      }
    };
    const jobsBefore = progress.jobsCopied, itemsBefore = progress.itemsCopied;
    await dst.importUnit(unit, counted(src.exportUnit(unit)));
    clearInterval(renewal);
    await renewing;
    if (lapsed || Date.now() > until - margin) throw new MoveAbortedError(unit, 'the copy outlasted the source freeze');
    return await flipAndClean(dir, id, unit, source, to, place, progress, report, frozenAt, progress.jobsCopied - jobsBefore, progress.itemsCopied - itemsBefore, until - margin / 2);
  } catch (err) {
    clearInterval(renewal);
    await renewing;
    if ((err as { flipped?: boolean }).flipped) throw err;
    await rollBack(dir, id, unit, source, to, frozenAt > 0);
    report('rolled-back');
    throw err instanceof MoveAbortedError || err instanceof UnitNotEmptyError ? err : new MoveAbortedError(unit, (err as Error).message, { cause: err });
  }
}


async function flipAndClean(dir: Directory, id: string, unit: string, from: string, to: string,
  place: (next: DirectoryRecord, unit: string, to: string) => void, progress: MoveProgress, report: (p: MovePhase) => void,
  frozenAt: number | null, jobs: number, items: number, flipBy = Infinity): Promise<UnitMoveResult> {
  const record = await dir.write((next) => {
    const m = next.moves.find((x) => x.id === id);
    if (!m || m.phase !== 'copy') throw new MoveAbortedError(unit, 'its move record was rolled back by another router (the mover looked dead)');
    if (Date.now() > flipBy) throw new MoveAbortedError(unit, 'the source freeze was about to lapse at the flip');
    place(next, unit, to);
    next.flips.push({ unit, from, to, epoch: next.epoch + 1 });
    m.phase = 'flip';
    m.phaseAt = Date.now();
    return true;
  });
  const epoch = record.epoch;
  const pauseMs = frozenAt === null ? 0 : Date.now() - frozenAt;
  progress.pausesMs.push(pauseMs);
  try {
    report('flip');
    await setPhase(dir, id, 'cleanup');
    report('cleanup');
    if (frozenAt !== null) await backendOf(dir, from).clearUnit(unit);
    await dir.write((next) => {
      const before = next.moves.length;
      next.moves = next.moves.filter((m) => m.id !== id);
      return next.moves.length !== before;
    });
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

/** Undoes a move that has not flipped: clears the target's partial copy, thaws the source, drops the record. */
async function rollBack(dir: Directory, id: string, unit: string, from: string, to: string, froze: boolean): Promise<void> {
  const src = dir.backends(from);
  const dst = dir.backends(to);
  if (dst && dst !== src) await dst.clearUnit(unit).catch(() => {});
  if (froze && src) await src.setOwnership(unit, ACTIVE).catch(() => {});
  await dir.write((next) => {
    const m = next.moves.find((x) => x.id === id);
    if (!m || m.phase !== 'copy') return false;
    next.moves = next.moves.filter((x) => x.id !== id);
    return true;
  }).catch(() => {});
}

export interface RecoveredMove {
  unit: string;
  from: string;
  to: string;
  outcome: 'finished' | 'rolled-back' | 'running';
}

/**
 * Finishes or undoes moves whose mover died. A move in `copy` is undone once
 * its source is no longer frozen (a live mover renews the freeze; a dead one's
 * lapses within freezeMs) and it began more than freezeMs ago; a live mover
 * then finds its record gone at the flip and stops. A move past its flip is
 * finished: markers set, the source's copy cleared, the record dropped.
 * `staleMs`: how long a move must have sat in flip or cleanup (0 for an
 * operator's resumeMoves, more for routers that notice on their own).
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
      const own = src === dst ? { state: 'active' } : await src.ownership(m.unit);
      if (own.state === 'frozen' || now - m.startedAt < m.freezeMs) {
        out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'running' });
        continue;
      }
      if (src !== dst) await dst.clearUnit(m.unit);
      await dir.write((next) => {
        const before = next.moves.length;
        next.moves = next.moves.filter((x) => !(x.id === m.id && x.phase === 'copy'));
        return next.moves.length !== before;
      });
      out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'rolled-back' });
      continue;
    }
    if (now - m.phaseAt < staleMs) {
      out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'running' });
      continue;
    }
    // The flip is in the directory; write the markers again (idempotent), then clean up.
    if (src !== dst) {
      await dst.setOwnership(m.unit, ACTIVE);
      const epoch = dir.record.epoch;
      const own = await src.ownership(m.unit);
      if (own.state !== 'moved') await src.setOwnership(m.unit, { state: 'moved', to: m.to, epoch });
      await src.clearUnit(m.unit);
    }
    await dir.write((next) => {
      const before = next.moves.length;
      next.moves = next.moves.filter((x) => x.id !== m.id);
      return next.moves.length !== before;
    });
    out.push({ unit: m.unit, from: m.from, to: m.to, outcome: 'finished' });
  }
  return out;
}
