import type { Backend, QueueDepth, Storage } from '../../storage/storage.js';
import { createStorage } from '../../storage/create-storage.js';
import { ClosedError } from '../../storage/errors.js';
import type { StorageOptions } from '../../storage/storage-options.js';
import { checkMs, checkName, checkNames, checkQueues } from '../../storage/validate.js';
import { DUE_SETS } from '../../storage/due-sets.js';
import { MemoryNamespace } from './memory-namespace.js';
import type { UnitOwnership } from '../../storage/ownership.js';
import { importAll, type ImportFence, type ItemRef, type UnitImport, type UnitItem } from '../../storage/unit-stream.js';

/** Options of the in-memory backend: the storage options, and how often it polls and sweeps. */
export interface MemoryBackendOptions extends StorageOptions {
  /** How often lapsed records are dropped from memory (reads are exact regardless). Default 60 s. */
  sweepIntervalMs?: number;
  /**
   * How long a waiting fetch sleeps before it looks again without a wake-up. In-process
   * wake-ups are exact, so this only bounds a lost one. Default 1 s.
   */
  pollIntervalMs?: number;
}

/**
 * The embedded default: the whole contract in process memory, nothing
 * persisted beyond the process. Use it for development, tests and
 * single-process services; use Postgres or Redis for durability.
 */
export class MemoryBackend implements Backend {
  readonly kind = 'memory';
  readonly #options: MemoryBackendOptions;
  readonly #namespaces = new Map<string, { driver: MemoryNamespace; storage: Storage }>();
  readonly #watchers = new Map<string, Set<() => void>>();
  /** The work index: namespaces that may hold queue entries (added on every enqueue, dropped once seen empty). */
  readonly #withWork = new Set<string>();
  readonly #workWatchers = new Set<(namespace: string | null) => void>();
  #lastId = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    if (options.pollIntervalMs !== undefined) checkMs('pollIntervalMs', options.pollIntervalMs, 1);
    if (options.sweepIntervalMs !== undefined) checkMs('sweepIntervalMs', options.sweepIntervalMs, 1);
    this.#options = options;
  }

  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError('MemoryBackend');
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      for (const ns of this.#namespaces.values()) ns.driver.sweep();
    }, this.#options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  storage(namespace: string): Storage {
    return this.#namespace(namespace).storage;
  }

  #namespace(namespace: string): { driver: MemoryNamespace; storage: Storage } {
    if (this.#closed) throw new ClosedError('MemoryBackend');
    checkName('namespace', namespace);
    let ns = this.#namespaces.get(namespace);
    if (!ns) {
      const driver = new MemoryNamespace(
        () => ++this.#lastId,
        this.#options.pollIntervalMs ?? 1_000,
        namespace,
        (n) => (this.#lastId = Math.max(this.#lastId, n)),
        () => {
          this.#withWork.add(namespace);
          for (const fn of this.#workWatchers) fn(namespace);
        },
      );
      ns = { driver, storage: createStorage(driver, this.#options) };
      this.#namespaces.set(namespace, ns);
      void this.open();
    }
    return ns;
  }

  async ownership(namespace: string): Promise<UnitOwnership> {
    return this.#namespace(namespace).driver.ownership();
  }

  async setOwnership(namespace: string, own: UnitOwnership): Promise<void> {
    return this.#namespace(namespace).driver.setOwnership(own);
  }

  async hasData(namespace: string): Promise<boolean> {
    return this.#namespace(namespace).driver.hasData();
  }

  async units(): Promise<string[]> {
    const out: string[] = [];
    for (const [namespace, ns] of this.#namespaces) if (await ns.driver.hasData()) out.push(namespace);
    return out;
  }

  exportUnit(namespace: string): AsyncIterable<UnitItem[]> {
    return this.#namespace(namespace).driver.exportUnit();
  }

  importUnit(namespace: string, batches: AsyncIterable<readonly UnitItem[]>): Promise<void> {
    return importAll(this.#namespace(namespace).driver.beginImport(), batches);
  }

  beginImport(namespace: string, fence?: ImportFence): UnitImport {
    return this.#namespace(namespace).driver.beginImport(fence);
  }

  trackChanges(namespace: string, on: boolean): Promise<void> {
    return this.#namespace(namespace).driver.trackChanges(on);
  }

  takeChanges(namespace: string): Promise<ItemRef[]> {
    return this.#namespace(namespace).driver.takeChanges();
  }

  exportRefs(namespace: string, refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return this.#namespace(namespace).driver.exportRefs(refs);
  }

  clearUnit(namespace: string): Promise<void> {
    return this.#namespace(namespace).driver.clearUnit();
  }

  watch(namespace: string, fn: () => void): () => void {
    let set = this.#watchers.get(namespace);
    if (!set) this.#watchers.set(namespace, (set = new Set()));
    const entry = () => fn();
    set.add(entry);
    return () => void set.delete(entry);
  }

  async signal(namespace: string): Promise<void> {
    for (const fn of [...(this.#watchers.get(namespace) ?? [])]) queueMicrotask(fn);
  }

  async unitsWithWork(queues: readonly string[]): Promise<string[]> {
    const names = checkQueues(queues);
    const out: string[] = [];
    for (const namespace of this.#withWork) {
      const work = this.#namespaces.get(namespace)?.driver.workIn(names) ?? 'none';
      if (work === 'visible') out.push(namespace);
      else if (work === 'none') this.#withWork.delete(namespace);
    }
    return out;
  }

  async unitsWithDue(): Promise<string[]> {
    const now = Date.now();
    const out: string[] = [];
    // In process: a pass over the namespaces costs no round trip.
    for (const [namespace, ns] of this.#namespaces) {
      for (const key of DUE_SETS) {
        if ((await ns.driver.data.setFirstByScore(key, -Infinity, now, 1)).length > 0) {
          out.push(namespace);
          break;
        }
      }
    }
    return out;
  }

  watchWork(fn: (namespace: string | null) => void): () => void {
    const entry = (ns: string | null) => fn(ns);
    this.#workWatchers.add(entry);
    return () => void this.#workWatchers.delete(entry);
  }

  async namespaces(): Promise<string[]> {
    const out: string[] = [];
    for (const [namespace, ns] of this.#namespaces) if (ns.driver.holdsJobs()) out.push(namespace);
    return out;
  }

  async stateCountsOf(namespaces: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    for (const namespace of checkNames('namespace', namespaces)) out.set(namespace, await this.#namespace(namespace).driver.stateCounts());
    return out;
  }

  async counterSums(keys: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(checkNames('key', keys).map((k) => [k, 0]));
    for (const ns of this.#namespaces.values()) {
      for (const k of keys) out[k]! += await ns.driver.data.counterGet(k);
    }
    return out;
  }

  async queueDepths(): Promise<QueueDepth[]> {
    const out: QueueDepth[] = [];
    for (const [namespace, ns] of this.#namespaces) {
      for (const q of await ns.driver.queueInfo()) out.push({ namespace, queue: q.name, waiting: q.waiting, inFlight: q.inFlight });
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#namespaces.clear();
  }
}
