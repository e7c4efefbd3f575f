import { getPriority, setPriority } from 'node:os';
import type { MovePhase } from '../directory/unit-move.js';

/** The phases in which the mover copies while the unit stays writable: it may yield the CPU then. */
const COPYING: ReadonlySet<MovePhase> = new Set(['copy', 'catch-up']);

/**
 * The mover's CPU priority, phase by phase: the copy runs at `copyNice`, so that on cores it
 * shares with the shards' workers it takes spare CPU only, and the freeze, which holds the unit's
 * writes, at the priority the mover started with, where the OS allows raising it back (root, or
 * RLIMIT_NICE); elsewhere it stays low and `raised` says so. Only this thread changes: on Linux a
 * nice value is per thread, and the mover's work is on the main one.
 */
export class CopyPriority {
  readonly #start: number;
  readonly #copyNice: number;
  #raiseFailed = false;

  constructor(copyNice: number) {
    this.#start = getPriority();
    this.#copyNice = Math.max(copyNice, this.#start);
  }

  /** Follows a phase change; never throws (a priority the OS refuses leaves the move as it is). */
  onPhase(phase: MovePhase): void {
    const want = COPYING.has(phase) ? this.#copyNice : this.#start;
    if (getPriority() === want) return;
    try {
      setPriority(want);
    } catch {
      if (want === this.#start) this.#raiseFailed = true;
    }
  }

  /** The nice value now, as the OS reports it. */
  get nice(): number {
    return getPriority();
  }

  /** False once the OS refused to raise the priority back for a freeze. */
  get raised(): boolean {
    return !this.#raiseFailed;
  }
}
