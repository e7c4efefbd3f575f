import { randomUUID } from 'node:crypto';
import type { FetchAttempt, FetchedEntry, LeasedEntry, NamespaceDriver, NewJobRow } from '../../storage/driver.js';
import { JobNotFoundError, LeaseLostError } from '../../storage/errors.js';
import type { JobRecord, NewState, StateRecord } from '../../storage/job.js';
import type { QueueInfo } from '../../storage/monitoring.js';
import type { FetchStateChange } from '../../storage/queue.js';
import type { ServerInfo, ServerRecord } from '../../storage/servers.js';
import { jobIdsOf, type WriteOp } from '../../storage/transaction.js';
import { live, sweep, type Expiring } from './expiring.js';
import { MemoryData } from './memory-data.js';
import { MemoryQueue, type QueueEntry } from './memory-queue.js';
import { DUE_SETS } from '../../storage/due-sets.js';
import { exportWithIdMarks, idFloor, refsWithIdMarks } from '../../storage/id-marks.js';
import type { StructureKind } from '../../storage/data.js';
import { ACTIVE, effective, importRefusal, isOlderMark, refusal, type UnitOwnership } from '../../storage/ownership.js';
import { EXPORT_BATCH, itemRef, SEP, type ImportFence, type ItemRef, type ItemState, type UnitImport, type UnitItem } from '../../storage/unit-stream.js';

interface StoredJob extends Expiring {
  id: string;
  type: string;
  argsJson: string;
  queue: string;
  createdAt: number;
  parameters: Map<string, string>;
  history: StateRecord[];
  current: StateRecord | null;
}

/**
 * One namespace held in process memory. Every method runs to completion
 * without awaiting, so each is atomic with respect to every other caller in
 * the process: that is what makes fetch, locks and commits safe here.
 */
export class MemoryNamespace implements NamespaceDriver {
  readonly data = new MemoryData();
  /** Calls are synchronous in-process work: nothing to share. */
  readonly batchInFlight = 0;
  readonly #jobs = new Map<string, StoredJob>();
  /** Per queue, entries keyed by enqueue sequence, in FIFO order. */
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #locks = new Map<string, { token: number; until: number }>();
  readonly #lockTokens = new Map<string, number>();
  readonly #servers = new Map<string, ServerRecord>();
  readonly #waiters = new Set<{ queues: readonly string[]; wake: () => void }>();
  readonly #nextId: () => number;
  #seq = 0;
  #own: UnitOwnership = ACTIVE;
  #changes: Set<ItemRef> | null = null;

  readonly #reserveId: (atLeast: number) => number;
  readonly #onWork: () => void;

  /**
   * nextId draws the backend's ids; reserveId(n) makes every later draw exceed n (imported ids
   * keep theirs) and returns the last id drawn; onWork is called whenever work may have become visible (the backend's work index).
   */
  constructor(
    nextId: () => number,
    readonly pollIntervalMs: number,
    readonly namespace = 'memory',
    reserveId: (atLeast: number) => number = () => 0,
    onWork: () => void = () => {},
  ) {
    this.#nextId = nextId;
    this.#reserveId = reserveId;
    this.#onWork = onWork;
  }

  /** Throws the refusal of a write or fetch under the unit's ownership record; every write calls it first. */
  #admit(): void {
    const refused = refusal(this.namespace, this.#own, true);
    if (refused) throw refused;
  }

  async ownership(): Promise<UnitOwnership> {
    return effective(this.#own);
  }

  async setOwnership(own: UnitOwnership): Promise<void> {
    // Every call runs to completion without awaiting: none is half done while this runs.
    if (isOlderMark(this.#own, own)) return;
    this.#own = own.state === 'active' ? ACTIVE : { ...own };
  }

  /** A live job, or a member of a DUE set (Backend.namespaces). */
  holdsJobs(): boolean {
    const now = Date.now();
    for (const id of this.#jobs.keys()) if (live(this.#jobs, id, now)) return true;
    return DUE_SETS.some((key) => (live(this.data.sets, key, now)?.members.size ?? 0) > 0);
  }

  async hasData(): Promise<boolean> {
    const now = Date.now();
    for (const id of this.#jobs.keys()) if (live(this.#jobs, id, now)) return true;
    for (const q of this.#queues.values()) if (q.size > 0) return true;
    return this.#locks.size > 0 || this.#lockTokens.size > 0 || this.#servers.size > 0 || this.data.hasData(now);
  }

  exportUnit(): AsyncIterable<UnitItem[]> {
    return exportWithIdMarks(this.#exportUnit(), 'plain', this.#drawnIds);
  }

  /** How far the backend's ids were drawn (reserving 0 changes nothing). */
  readonly #drawnIds = async () => this.#reserveId(0);

  async *#exportUnit(): AsyncIterable<UnitItem[]> {
    // Built in one turn: nothing else runs in between, so this is a snapshot even of an active unit.
    const now = Date.now();
    const items: UnitItem[] = [];
    for (const id of [...this.#jobs.keys()]) {
      const item = this.#jobItem(id, now);
      if (item) items.push(item);
    }
    for (const [queue, q] of this.#queues) for (const [seq, e] of q.entries) items.push(entryItem(queue, seq, e, now));
    items.push(...this.data.exportItems(now));
    for (const resource of this.#lockTokens.keys()) items.push(this.#lockItem(resource, now));
    for (const s of this.#servers.values()) items.push(serverItem(s));
    for (let i = 0; i < items.length; i += EXPORT_BATCH) yield items.slice(i, i + EXPORT_BATCH);
  }

  #jobItem(id: string, now: number): UnitItem | null {
    const j = live(this.#jobs, id, now);
    if (!j) return null;
    return {
      kind: 'job',
      id,
      type: j.type,
      argsJson: j.argsJson,
      queue: j.queue,
      createdAt: j.createdAt,
      expireAt: j.expireAt,
      parameters: Object.fromEntries(j.parameters),
      history: j.history.map(itemState),
      current: j.current ? itemState(j.current) : null,
    };
  }

  #lockItem(resource: string, now: number): UnitItem {
    const held = this.#locks.get(resource);
    return {
      kind: 'lock',
      resource,
      fence: this.#lockTokens.get(resource)!,
      holder: held && held.until > now ? { token: held.token, leaseUntil: held.until } : null,
    };
  }

  beginImport(fence?: ImportFence): UnitImport {
    let maxId = 0;
    // Checked before each call's writes, which then run without awaiting: atomic with them.
    const admit = () => {
      const refused = fence && importRefusal(this.namespace, this.#own, fence.epoch);
      if (refused) throw refused;
    };
    // Source entry (queue, seq) -> this namespace's seq: a later copy updates the entry in its place.
    const places = new Map<string, number>();
    const write = (item: UnitItem, replacing: boolean) => {
      maxId = Math.max(maxId, idFloor(item, 'plain'));
      switch (item.kind) {
        case 'job':
          this.#jobs.set(item.id, {
            id: item.id,
            type: item.type,
            argsJson: item.argsJson,
            queue: item.queue,
            createdAt: item.createdAt,
            expireAt: item.expireAt,
            parameters: new Map(Object.entries(item.parameters)),
            history: item.history.map(stateOfItem),
            current: item.current ? stateOfItem(item.current) : null,
          });
          break;
        case 'entry': {
          let q = this.#queues.get(item.queue);
          if (!q) this.#queues.set(item.queue, (q = new MemoryQueue()));
          const key = itemRef(item);
          const at = places.get(key);
          // A leased entry gets a token no consumer knows: its job comes back when the copied lease lapses.
          const e: QueueEntry = {
            jobId: item.jobId,
            token: item.leaseUntil === null ? null : randomUUID(),
            leaseUntil: item.leaseUntil ?? 0,
            deliveries: item.deliveries,
          };
          if (at !== undefined && q.entries.has(at)) q.put(at, e);
          else {
            places.set(key, ++this.#seq);
            q.put(this.#seq, e);
          }
          break;
        }
        case 'lock':
          this.#lockTokens.set(item.resource, item.fence);
          if (item.holder) this.#locks.set(item.resource, { token: item.holder.token, until: item.holder.leaseUntil });
          else this.#locks.delete(item.resource);
          break;
        case 'server':
          this.#servers.set(item.id, {
            id: item.id,
            queues: [...item.queues],
            workerCount: item.workerCount,
            startedAt: new Date(item.startedAt),
            heartbeatAt: new Date(item.heartbeatAt),
          });
          break;
        case 'gone':
          this.#forget(item.ref, places);
          break;
        default:
          if (replacing) this.data.forget(item.kind, item.key);
          this.data.importItem(item);
      }
    };
    return {
      add: async (items) => {
        admit();
        for (const item of items) write(item, false);
      },
      replace: async (items) => {
        admit();
        for (const item of items) write(item, true);
      },
      finish: async () => {
        admit();
        this.#reserveId(maxId);
        this.#wakeWaiters();
      },
    };
  }

  /** Removes what a ref names (an imported copy whose original is gone). */
  #forget(ref: ItemRef, places: Map<string, number>): void {
    const name = ref.slice(2);
    switch (ref[0]) {
      case 'j':
        this.#jobs.delete(name);
        break;
      case 'e': {
        const queue = name.slice(0, name.indexOf(SEP));
        const at = places.get(ref);
        const q = this.#queues.get(queue);
        if (at !== undefined && q) {
          q.delete(at);
          if (q.size === 0) this.#queues.delete(queue);
        }
        places.delete(ref);
        break;
      }
      case 'k':
        this.#locks.delete(name);
        this.#lockTokens.delete(name);
        break;
      case 's':
        this.#servers.delete(name);
        break;
      case 'h':
        this.data.forget('hash', name);
        break;
      case 'z':
        this.data.forget('set', name);
        break;
      case 'l':
        this.data.forget('list', name);
        break;
      case 'c':
        this.data.forget('counter', name);
        break;
    }
  }

  async trackChanges(on: boolean): Promise<void> {
    this.#changes = on ? (this.#changes ?? new Set()) : null;
  }

  async takeChanges(): Promise<ItemRef[]> {
    if (!this.#changes) return [];
    const out = [...this.#changes];
    this.#changes.clear();
    return out;
  }

  async exportRefs(refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return refsWithIdMarks(this.#exportRefs(refs), refs, 'plain', this.#drawnIds);
  }

  #exportRefs(refs: readonly ItemRef[]): UnitItem[] {
    const now = Date.now();
    return refs.map((ref): UnitItem => {
      const name = ref.slice(2);
      const gone: UnitItem = { kind: 'gone', ref };
      switch (ref[0]) {
        case 'j':
          return this.#jobItem(name, now) ?? gone;
        case 'e': {
          const cut = name.indexOf(SEP);
          const queue = name.slice(0, cut),
            seq = Number(name.slice(cut + 1));
          const e = this.#queues.get(queue)?.entries.get(seq);
          return e ? entryItem(queue, seq, e, now) : gone;
        }
        case 'k':
          return this.#lockTokens.has(name) ? this.#lockItem(name, now) : gone;
        case 's': {
          const srv = this.#servers.get(name);
          return srv ? serverItem(srv) : gone;
        }
        default:
          return this.data.exportItem(ref, now) ?? gone;
      }
    });
  }

  /** Records what a write changed, while a move tracks this unit (nothing otherwise). */
  #touch(ref: ItemRef): void {
    this.#changes?.add(ref);
  }

  async clearUnit(): Promise<void> {
    this.#jobs.clear();
    this.#queues.clear();
    this.#locks.clear();
    this.#lockTokens.clear();
    this.#servers.clear();
    this.data.clear();
  }

  async createJob(row: NewJobRow): Promise<string> {
    this.#admit();
    const id = String(this.#nextId());
    const now = Date.now();
    const state = row.state ? stateRecord(row.state, now) : null;
    this.#jobs.set(id, {
      id,
      type: row.type,
      argsJson: row.argsJson,
      queue: row.queue,
      createdAt: now,
      parameters: new Map(Object.entries(row.parameters)),
      history: state ? [state] : [],
      current: state,
      expireAt: row.expireInMs === null ? null : now + row.expireInMs,
    });
    this.#touch(`j:${id}`);
    if (row.enqueue) {
      this.#enqueue(row.queue, id);
      this.#wakeWaiters();
    }
    return id;
  }

  #enqueue(queue: string, jobId: string): void {
    let q = this.#queues.get(queue);
    if (!q) this.#queues.set(queue, (q = new MemoryQueue()));
    q.put(++this.#seq, { jobId, token: null, leaseUntil: 0, deliveries: 0 });
    this.#touch(`e:${queue}${SEP}${this.#seq}`);
  }

  #wakeWaiters(): void {
    for (const w of this.#waiters) w.wake();
    this.#onWork();
  }

  /** 'visible': an entry of one of the queues can be fetched now; 'held': only leased ones; 'none': no entry at all. */
  workIn(queues: readonly string[]): 'visible' | 'held' | 'none' {
    const now = Date.now();
    for (const queue of queues) if (this.#queues.get(queue)?.hasVisible(now)) return 'visible';
    return this.#queues.size > 0 ? 'held' : 'none';
  }

  async getJob(id: string): Promise<JobRecord | null> {
    return recordOrNull(live(this.#jobs, id));
  }

  async getHistory(id: string): Promise<StateRecord[] | null> {
    return live(this.#jobs, id)?.history.map(copyState) ?? null;
  }

  async getParameter(id: string, name: string): Promise<string | null | undefined> {
    const job = live(this.#jobs, id);
    return job ? (job.parameters.get(name) ?? null) : undefined;
  }

  async setParameter(id: string, name: string, value: string): Promise<boolean> {
    this.#admit();
    const job = live(this.#jobs, id);
    job?.parameters.set(name, value);
    this.#touch(`j:${id}`);
    return job !== undefined;
  }

  async commit(ops: readonly WriteOp[]): Promise<void> {
    this.#admit();
    const now = Date.now();
    // Check every precondition before the first write: nothing below can fail, so the batch is all-or-nothing.
    for (const id of jobIdsOf(ops)) if (!live(this.#jobs, id, now)) throw new JobNotFoundError(id);
    const removed = new Set<string>();
    for (const op of ops) {
      if (op.op !== 'removeFromQueue') continue;
      // A delivery removed twice in one batch is lost the second time, as it would be in two commits.
      if (removed.has(op.token) || !this.#leased(op)) throw new LeaseLostError(`cannot remove a job from queue '${op.queue}' in this transaction`);
      removed.add(op.token);
    }
    let enqueued = false;
    for (const op of ops) {
      if ('jobId' in op && op.op !== 'enqueue') this.#touch(`j:${op.jobId}`);
      else if ('key' in op) this.#touch(`${DATA_REF[op.op === 'expire' || op.op === 'persist' ? op.kind : KIND_OF_OP[op.op]!]}${op.key}`);
      switch (op.op) {
        case 'setJobState': {
          const job = this.#jobs.get(op.jobId)!;
          const state = stateRecord(op.state, now);
          job.history.push(state);
          job.current = state;
          break;
        }
        case 'addJobState':
          this.#jobs.get(op.jobId)!.history.push(stateRecord(op.state, now));
          break;
        case 'setJobParameter':
          this.#jobs.get(op.jobId)!.parameters.set(op.name, op.value);
          break;
        case 'expireJob':
          this.#jobs.get(op.jobId)!.expireAt = now + op.ms;
          break;
        case 'persistJob':
          this.#jobs.get(op.jobId)!.expireAt = null;
          break;
        case 'enqueue':
          this.#enqueue(op.queue, op.jobId);
          enqueued = true;
          break;
        case 'removeFromQueue':
          this.#remove(this.#leased(op)!, op.queue);
          this.#touch(`e:${op.queue}${SEP}${op.token.slice(0, op.token.indexOf(':'))}`);
          break;
        case 'hashSet':
          this.data.hashSet(op.key, op.fields);
          break;
        case 'hashDelete':
          this.data.hashDelete(op.key);
          break;
        case 'setAdd':
          this.data.setAdd(op.key, op.member, op.score);
          break;
        case 'setRemove':
          this.data.setRemove(op.key, op.member);
          break;
        case 'setDelete':
          this.data.setDelete(op.key);
          break;
        case 'listInsert':
          this.data.listInsert(op.key, op.value);
          break;
        case 'listRemove':
          this.data.listRemove(op.key, op.value);
          break;
        case 'listTrim':
          this.data.listTrim(op.key, op.start, op.end);
          break;
        case 'listDelete':
          this.data.listDelete(op.key);
          break;
        case 'counterIncrement':
          this.data.counterIncrement(op.key, op.by, op.expireInMs, now);
          break;
        case 'expire':
          this.data.expire(op.kind, op.key, op.ms, now);
          break;
        case 'persist':
          this.data.persist(op.kind, op.key);
          break;
      }
    }
    if (enqueued) this.#wakeWaiters();
  }

  async tryFetch(queues: readonly string[], invisibilityMs: number, count: number, withJob: boolean, setState: FetchStateChange | null): Promise<FetchAttempt> {
    this.#admit();
    const now = Date.now();
    const leased: FetchedEntry[] = [];
    for (const queue of queues) {
      const q = this.#queues.get(queue);
      if (!q) continue;
      for (;;) {
        const taken = q.take(now, randomUUID, now + invisibilityMs);
        if (!taken) break;
        const { seq, e } = taken;
        const stored = withJob ? live(this.#jobs, e.jobId, now) : undefined;
        if (stored && setState && stored.current && setState.from.includes(stored.current.name)) {
          const state = stateRecord(setState.state, now);
          stored.history.push(state);
          stored.current = state;
        }
        if (this.#changes) {
          this.#touch(`e:${queue}${SEP}${seq}`);
          this.#touch(`j:${e.jobId}`);
        }
        const job = withJob ? recordOrNull(stored) : undefined;
        leased.push({ jobId: e.jobId, queue, token: `${seq}:${e.token}`, deliveries: e.deliveries, job });
        if (leased.length === count) return { entries: leased, nextVisibleInMs: null };
      }
    }
    let nextVisibleAt = Infinity;
    for (const queue of queues) nextVisibleAt = Math.min(nextVisibleAt, this.#queues.get(queue)?.nextLapse(now) ?? Infinity);
    return { entries: leased, nextVisibleInMs: nextVisibleAt === Infinity ? null : nextVisibleAt - now };
  }

  subscribeWork(queues: readonly string[], wake: () => void): () => void {
    const waiter = { queues, wake };
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  #remove(found: { q: MemoryQueue; seq: number }, queue: string): void {
    found.q.delete(found.seq);
    this.#touch(`e:${queue}${SEP}${found.seq}`);
    if (found.q.size === 0) this.#queues.delete(queue);
  }

  #leased(entry: Pick<LeasedEntry, 'queue' | 'token'>): { q: MemoryQueue; seq: number } | null {
    // "<seq>:<token>", read in place: a split allocated three objects on every ack.
    const cut = entry.token.indexOf(':');
    const q = this.#queues.get(entry.queue);
    if (cut < 0 || !q) return null;
    const seq = Number(entry.token.slice(0, cut));
    const held = q.entries.get(seq)?.token;
    return held != null && entry.token.length === cut + 1 + held.length && entry.token.startsWith(held, cut + 1) ? { q, seq } : null;
  }

  async ack(entries: readonly LeasedEntry[]): Promise<boolean[]> {
    this.#admit();
    return entries.map((entry) => {
      const found = this.#leased(entry);
      if (!found) return false;
      this.#remove(found, entry.queue);
      return true;
    });
  }

  async requeue(entry: LeasedEntry): Promise<boolean> {
    this.#admit();
    const found = this.#leased(entry);
    if (!found) return false;
    found.q.release(found.seq);
    this.#touch(`e:${entry.queue}${SEP}${found.seq}`);
    this.#wakeWaiters();
    return true;
  }

  async extend(entry: LeasedEntry, ms: number): Promise<boolean> {
    this.#admit();
    const found = this.#leased(entry);
    if (!found) return false;
    found.q.extend(found.seq, Date.now() + ms);
    this.#touch(`e:${entry.queue}${SEP}${found.seq}`);
    return true;
  }

  async tryLock(resource: string, ttlMs: number): Promise<number | null> {
    this.#admit();
    const now = Date.now();
    const held = this.#locks.get(resource);
    if (held && held.until > now) return null;
    const token = (this.#lockTokens.get(resource) ?? 0) + 1;
    this.#lockTokens.set(resource, token);
    this.#locks.set(resource, { token, until: now + ttlMs });
    this.#touch(`k:${resource}`);
    return token;
  }

  async extendLock(resource: string, token: number, ttlMs: number): Promise<boolean> {
    this.#admit();
    const held = this.#locks.get(resource);
    // A lapsed lease nobody took yet may still be extended: the token proves no one else was granted it.
    if (!held || held.token !== token) return false;
    held.until = Date.now() + ttlMs;
    this.#touch(`k:${resource}`);
    return true;
  }

  async releaseLock(resource: string, token: number): Promise<void> {
    this.#admit();
    if (this.#locks.get(resource)?.token === token) this.#locks.delete(resource);
    this.#touch(`k:${resource}`);
  }

  async announceServer(id: string, info: ServerInfo): Promise<void> {
    this.#admit();
    const now = new Date();
    this.#servers.set(id, { id, queues: [...info.queues], workerCount: info.workerCount, startedAt: now, heartbeatAt: now });
    this.#touch(`s:${id}`);
  }

  async heartbeat(id: string): Promise<boolean> {
    this.#admit();
    const s = this.#servers.get(id);
    if (s) s.heartbeatAt = new Date();
    this.#touch(`s:${id}`);
    return s !== undefined;
  }

  async removeServer(id: string): Promise<void> {
    this.#admit();
    this.#servers.delete(id);
    this.#touch(`s:${id}`);
  }

  async removeTimedOutServers(timeoutMs: number): Promise<number> {
    this.#admit();
    const cutoff = Date.now() - timeoutMs;
    let removed = 0;
    for (const [id, s] of this.#servers) {
      if (s.heartbeatAt.getTime() < cutoff && this.#servers.delete(id)) {
        removed++;
        this.#touch(`s:${id}`);
      }
    }
    return removed;
  }

  async listServers(): Promise<ServerRecord[]> {
    return [...this.#servers.values()].map((s) => ({ ...s, queues: [...s.queues] })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async queueInfo(): Promise<QueueInfo[]> {
    const now = Date.now();
    const out: QueueInfo[] = [];
    for (const [name, q] of this.#queues) {
      const inFlight = q.inFlight(now);
      out.push({ name, waiting: q.size - inFlight, inFlight });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async queueJobs(queue: string, offset: number, limit: number): Promise<JobRecord[]> {
    const now = Date.now();
    const out: JobRecord[] = [];
    let skipped = 0;
    for (const e of this.#queues.get(queue)?.entries.values() ?? []) {
      if (e.token !== null && e.leaseUntil > now) continue;
      if (skipped++ < offset) continue;
      const job = live(this.#jobs, e.jobId, now);
      if (job) out.push(toRecord(job));
      if (out.length >= limit) break;
    }
    return out;
  }

  async stateCounts(): Promise<Record<string, number>> {
    const now = Date.now();
    const counts: Record<string, number> = {};
    for (const job of this.#jobs.values()) {
      if (job.current && (job.expireAt === null || job.expireAt > now)) counts[job.current.name] = (counts[job.current.name] ?? 0) + 1;
    }
    return counts;
  }

  async jobsInState(state: string, offset: number, limit: number): Promise<JobRecord[]> {
    const now = Date.now();
    const matching = [...this.#jobs.values()].filter((j) => j.current?.name === state && (j.expireAt === null || j.expireAt > now));
    matching.sort((a, b) => b.current!.createdAt.getTime() - a.current!.createdAt.getTime() || Number(b.id) - Number(a.id));
    return matching.slice(offset, offset + limit).map(toRecord);
  }

  /** Drops lapsed records so a long-lived process does not grow without bound. */
  sweep(): void {
    const now = Date.now();
    sweep(this.#jobs, now);
    this.data.sweep(now);
    for (const [resource, held] of this.#locks) if (held.until <= now) this.#locks.delete(resource);
  }
}

function stateRecord(state: NewState, now: number): StateRecord {
  return { name: state.name, reason: state.reason ?? null, data: { ...state.data }, createdAt: new Date(now) };
}

/** A data op's structure kind (expire and persist name theirs), and a kind's ref prefix. */
const KIND_OF_OP: Partial<Record<WriteOp['op'], StructureKind>> = {
  hashSet: 'hash',
  hashDelete: 'hash',
  setAdd: 'set',
  setRemove: 'set',
  setDelete: 'set',
  listInsert: 'list',
  listRemove: 'list',
  listTrim: 'list',
  listDelete: 'list',
  counterIncrement: 'counter',
};
const DATA_REF: Record<StructureKind, string> = { hash: 'h:', set: 'z:', list: 'l:', counter: 'c:' };

function entryItem(queue: string, seq: number, e: QueueEntry, now: number): UnitItem {
  return {
    kind: 'entry',
    queue,
    seq: String(seq),
    jobId: e.jobId,
    deliveries: e.deliveries,
    leaseUntil: e.token !== null && e.leaseUntil > now ? e.leaseUntil : null,
  };
}

function serverItem(s: ServerRecord): UnitItem {
  return {
    kind: 'server',
    id: s.id,
    queues: [...s.queues],
    workerCount: s.workerCount,
    startedAt: s.startedAt.getTime(),
    heartbeatAt: s.heartbeatAt.getTime(),
  };
}

function itemState(s: StateRecord): ItemState {
  return { name: s.name, reason: s.reason, data: { ...s.data }, at: s.createdAt.getTime() };
}

function stateOfItem(s: ItemState): StateRecord {
  return { name: s.name, reason: s.reason, data: { ...s.data }, createdAt: new Date(s.at) };
}

function copyState(s: StateRecord): StateRecord {
  return { ...s, data: { ...s.data }, createdAt: new Date(s.createdAt) };
}

function recordOrNull(job: StoredJob | undefined): JobRecord | null {
  return job ? toRecord(job) : null;
}

function toRecord(job: StoredJob): JobRecord {
  return {
    id: job.id,
    type: job.type,
    args: JSON.parse(job.argsJson),
    queue: job.queue,
    state: job.current?.name ?? null,
    stateReason: job.current?.reason ?? null,
    stateData: { ...job.current?.data },
    stateAt: job.current ? new Date(job.current.createdAt) : null,
    createdAt: new Date(job.createdAt),
    parameters: Object.fromEntries(job.parameters),
    expireAt: job.expireAt === null ? null : new Date(job.expireAt),
  };
}
