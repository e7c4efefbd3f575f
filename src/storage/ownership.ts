import { UnitFrozenError, UnitMovedError } from './errors.js';

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

/** The record as it reads now: a lapsed freeze is active. */
export function effective(own: UnitOwnership, now = Date.now()): UnitOwnership {
  return own.state === 'frozen' && own.until <= now ? ACTIVE : own;
}
