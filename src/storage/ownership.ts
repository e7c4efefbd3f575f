import { MoveAbortedError, UnitFrozenError, UnitMovedError } from './errors.js';

/**
 * What a shard records about one unit (namespace) it has held. No record
 * means `active`. `frozen` refuses writes and fetches until `until` (ms since
 * the epoch) and then lapses to active by itself, so a mover that dies never
 * leaves a unit frozen; `moved` is permanent on the source and names the new
 * owner and the directory epoch of the flip.
 */
export type UnitOwnership = { state: 'active' } | { state: 'frozen'; until: number } | { state: 'moved'; to: string; epoch: number };

export const ACTIVE: UnitOwnership = Object.freeze({ state: 'active' });

/** The error a call of this kind meets under `own`, or null when it may go ahead. Reads pass a frozen unit. */
export function refusal(namespace: string, own: UnitOwnership, write: boolean, now = Date.now()): UnitMovedError | UnitFrozenError | null {
  if (own.state === 'moved') return new UnitMovedError(namespace, own.to, own.epoch);
  if (own.state === 'frozen' && write && own.until > now) return new UnitFrozenError(namespace, own.until);
  return null;
}

/**
 * True when setting `next` over `current` would put back an older decision: a `moved` record never
 * replaces a `moved` record of a later epoch. A mover that stalled and marks its target after a
 * rollback has re-marked it (at a later epoch) leaves the rollback's mark, which fences its import.
 */
export function isOlderMark(current: UnitOwnership, next: UnitOwnership): boolean {
  return next.state === 'moved' && current.state === 'moved' && current.epoch > next.epoch;
}

/**
 * The error an import session's batch meets when the namespace's record is no longer the `moved`
 * mark its move set at `epoch` (a router rolled the move back and re-marked the target), or null.
 */
export function importRefusal(namespace: string, own: UnitOwnership, epoch: number): MoveAbortedError | null {
  if (own.state === 'moved' && own.epoch === epoch) return null;
  return new MoveAbortedError(
    namespace,
    `the target's ownership record is no longer this move's (${describe(own)}): the move was undone while this mover stalled`,
  );
}

function describe(own: UnitOwnership): string {
  return own.state === 'moved' ? `moved to '${own.to}' at epoch ${own.epoch}` : own.state;
}

/** The record as it reads now: a lapsed freeze is active. */
export function effective(own: UnitOwnership, now = Date.now()): UnitOwnership {
  return own.state === 'frozen' && own.until <= now ? ACTIVE : own;
}
