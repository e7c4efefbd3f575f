import type { FetchAttempt, FetchedEntry, LeasedEntry, NamespaceDriver, NewJobRow } from '../../storage/driver.js';
import { JobNotFoundError, LeaseLostError, UnitFrozenError, UnitMovedError } from '../../storage/errors.js';
import { ACTIVE, effective, importRefusal, type UnitOwnership } from '../../storage/ownership.js';
import type { JobRecord, NewState, StateRecord } from '../../storage/job.js';
import type { QueueInfo } from '../../storage/monitoring.js';
import type { FetchStateChange } from '../../storage/queue.js';
import type { ServerInfo, ServerRecord } from '../../storage/servers.js';
import { jobIdsOf, type WriteOp } from '../../storage/transaction.js';
import { PostgresData } from './postgres-data.js';
import type { PgListener } from './postgres-listener.js';
import type { Query, Transact } from './postgres-query.js';
import { parseJobId, toJobRecord, toStateRecord, type FetchRow, type HistoryEntry, type JobRow } from './postgres-rows.js';
import { SQL } from './postgres-statements.js';
import {
  beginPostgresImport,
  clearPostgresUnit,
  exportPostgresRefs,
  exportPostgresUnit,
  takePostgresChanges,
  trackPostgresUnit,
  UNIT_SQL,
} from './postgres-unit-stream.js';
import type { ImportFence, ItemRef, UnitImport, UnitItem } from '../../storage/unit-stream.js';
import { exportWithIdMarks, refsWithIdMarks } from '../../storage/id-marks.js';

/** One namespace of a Postgres backend: every statement filters on `ns`. */
export class PostgresNamespace implements NamespaceDriver {
  readonly data: PostgresData;
  /** One statement and one commit for many calls: commits are what cost (measured: one batch in flight was best). */
  readonly batchInFlight = 1;
  /**
   * Up to 128 calls a statement, not 64: a server with 32 workers and prefetch 64 has up to 96
   * fetches and as many outcomes waiting at once, and each statement has a fixed cost besides
   * its rows (about 0.3 ms of Postgres CPU a fetch). 20,000-job drains against the build with
   * 64, 6 alternated pairs: 1.03-1.44x jobs/s (median 1.22), about a fifth less Node CPU a job
   * (bench/RESULTS.md). Redis keeps 64: no gain there, and a longer script holds its one thread
   * longer.
   */
  readonly batchMax = 128;
  /**
   * Eight outcome writes in flight per worker, not three: the group commit is the statement a
   * draining server always has in flight, and 32 workers with three each gave it about 96 jobs;
   * with eight, up to batchMax. 20,000-job drains, 32 workers, prefetch 64, alternated with three
   * (a throwaway switch): 1.15, 1.16, 1.15x jobs/s with retentionMs 0, 1.10, 1.10, 1.02x with
   * jobs kept (bench/RESULTS.md). Redis keeps three: its jobs-kept drains lost 0.84-0.88x.
   */
  readonly outcomeDepth = 8;

  readonly q: Query;

  constructor(
    query: Query,
    readonly transact: Transact,
    readonly ns: string,
    readonly listener: PgListener,
    readonly fallbackPollMs: number,
  ) {
    this.q = async (sql, params) => {
      try {
        return await query(sql, params);
      } catch (err) {
        throw this.#refusal(err) ?? err;
      }
    };
    this.data = new PostgresData(this.q, ns);
  }

  get namespace(): string {
    return this.ns;
  }

  /** jobshard_owns's refusals (0012) as typed errors; null for any other error. */
  #refusal(err: unknown): Error | null {
    const e = err as { code?: string; message?: string };
    if (e?.code === 'JS001') {
      const at = e.message!.indexOf(' ');
      return new UnitMovedError(this.ns, e.message!.slice(at + 1), Number(e.message!.slice(0, at)));
    }
    if (e?.code === 'JS002') return new UnitFrozenError(this.ns, Number(e.message));
    return null;
  }

  async ownership(): Promise<UnitOwnership> {
    const row = (await this.q<{ state: string; to_shard: string | null; epoch: string | null; until: number | null }>(SQL.ownership, [this.ns])).rows[0];
    if (row?.state === 'moved') return { state: 'moved', to: row.to_shard!, epoch: Number(row.epoch) };
    if (row?.state === 'frozen') return effective({ state: 'frozen', until: row.until! });
    return ACTIVE;
  }

  async setOwnership(own: UnitOwnership): Promise<void> {
    await this.q(SQL.setOwnership, [
      this.ns,
      own.state,
      own.state === 'moved' ? own.to : null,
      own.state === 'moved' ? own.epoch : null,
      own.state === 'frozen' ? Math.round(own.until) : null,
    ]);
  }

  async hasData(): Promise<boolean> {
    return (await this.q<{ has: boolean }>(SQL.hasData, [this.ns])).rows[0]!.has;
  }

  exportUnit(): AsyncIterable<UnitItem[]> {
    return exportWithIdMarks(exportPostgresUnit(this.q, this.ns), 'plain', this.#drawnIds);
  }

  /** The schema's id sequence: every id a unit drew here, deleted jobs' included, is at or below it. */
  readonly #drawnIds = async () => Number((await this.q<{ n: string }>(UNIT_SQL.drawnIds)).rows[0]!.n);

  beginImport(fence?: ImportFence): UnitImport {
    const session = beginPostgresImport(this.q, this.ns, fence && this.#fenced(fence));
    return {
      ...session,
      finish: async () => {
        await session.finish();
        this.listener.wakeLocal(this.ns);
      },
    };
  }

  /** Runs each call of a fenced import in one transaction that first checks the move's mark (0019); JS003 as MoveAbortedError. */
  #fenced(fence: ImportFence): Transact {
    return async (work) => {
      try {
        return await this.transact(async (q) => {
          await q(UNIT_SQL.importFence, [this.ns, fence.epoch]);
          return work(q);
        });
      } catch (err) {
        if ((err as { code?: string }).code !== 'JS003') throw err;
        throw importRefusal(this.ns, await this.ownership(), fence.epoch) ?? err;
      }
    };
  }

  trackChanges(on: boolean): Promise<void> {
    return trackPostgresUnit(this.q, this.ns, on);
  }

  takeChanges(): Promise<ItemRef[]> {
    return takePostgresChanges(this.q, this.ns);
  }

  async exportRefs(refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return refsWithIdMarks(await exportPostgresRefs(this.q, this.ns, refs), refs, 'plain', this.#drawnIds);
  }

  clearUnit(): Promise<void> {
    return clearPostgresUnit(this.q, this.ns);
  }

  get pollIntervalMs(): number {
    // With LISTEN up, polling only bounds a lost notification; without it, polling is the wake-up.
    return this.listener.connected ? 5_000 : this.fallbackPollMs;
  }

  async createJob(row: NewJobRow): Promise<string> {
    return (await this.createJobs([row]))[0]!;
  }

  async createJobs(rows: readonly NewJobRow[]): Promise<string[]> {
    const { rows: ids } = await this.q<{ id: string }>(SQL.createJobs, [
      this.ns,
      rows.map((r) => r.type),
      rows.map((r) => r.argsJson),
      rows.map((r) => r.queue),
      rows.map((r) => JSON.stringify(r.parameters)),
      rows.map((r) => r.expireInMs),
      rows.map((r) => (r.state ? JSON.stringify({ name: r.state.name, reason: r.state.reason ?? null, data: r.state.data ?? {} }) : null)),
      rows.map((r) => r.enqueue),
    ]);
    if (rows.some((r) => r.enqueue)) this.listener.wakeLocal(this.ns);
    return ids.map((r) => r.id);
  }

  async getJobs(ids: readonly string[]): Promise<Array<JobRecord | null>> {
    const valid = ids.map(parseJobId).filter((id): id is string => id !== null);
    if (valid.length === 0) return ids.map(() => null);
    const { rows } = await this.q<JobRow>(SQL.getJobs, [this.ns, valid]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? toJobRecord(row) : null;
    });
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const jobId = parseJobId(id);
    if (!jobId) return null;
    const row = (await this.q<JobRow>(SQL.getJob, [this.ns, jobId])).rows[0];
    return row ? toJobRecord(row) : null;
  }

  async getHistory(id: string): Promise<StateRecord[] | null> {
    const jobId = parseJobId(id);
    if (!jobId) return null;
    const row = (await this.q<{ history: HistoryEntry[] }>(SQL.getHistory, [this.ns, jobId])).rows[0];
    return row ? row.history.map(toStateRecord) : null;
  }

  async getParameter(id: string, name: string): Promise<string | null | undefined> {
    const jobId = parseJobId(id);
    if (!jobId) return undefined;
    const row = (await this.q<{ value: string | null }>(SQL.getParameter, [this.ns, jobId, name])).rows[0];
    return row ? row.value : undefined;
  }

  async setParameter(id: string, name: string, value: string): Promise<boolean> {
    const jobId = parseJobId(id);
    if (!jobId) return false;
    return (await this.q<{ n: number }>(SQL.setParameter, [this.ns, jobId, name, value])).rows[0]!.n > 0;
  }

  async commit(ops: readonly WriteOp[]): Promise<void> {
    const ids = jobIdsOf(ops);
    const bad = ids.find((id) => !parseJobId(id));
    if (bad !== undefined) throw new JobNotFoundError(bad);
    const removes = ops.filter((op) => op.op === 'removeFromQueue');
    const rest = foldExpiry(ops.filter((op) => op.op !== 'removeFromQueue'));
    // A worker's outcomes take one of the two set-based paths: jobs deleted, or each job's state set.
    const deleting = deletesOnly(rest);
    const states = deleting ? null : statesOnly(rest);
    const split = removes.map((r) => r.token.split(':') as [string, string]);
    const leases = [split.map(([seq]) => seq), split.map(([, token]) => token)];
    try {
      if (deleting) await this.q(SQL.commitDeleting, [this.ns, ids, JSON.stringify(deleting), ...leases]);
      else if (states) {
        const { jobIds, others, ...arrays } = states;
        await this.q(SQL.commitSetStates, [this.ns, jobIds, JSON.stringify(arrays), JSON.stringify(others), ...leases]);
      } else if (removes.length === 0) await this.q(SQL.commit, [this.ns, ids, JSON.stringify(rest)]);
      else await this.q(SQL.commitRemoving, [this.ns, ids, JSON.stringify(rest), ...leases]);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'P0002') throw new JobNotFoundError((err as Error).message);
      if (code === 'P0003')
        throw new LeaseLostError(`cannot remove a job from queue '${[...new Set(removes.map((r) => r.queue))].join("', '")}' in this transaction`);
      throw err;
    }
    if (ops.some((op) => op.op === 'enqueue')) this.listener.wakeLocal(this.ns);
  }

  async tryFetch(queues: readonly string[], invisibilityMs: number, count: number, withJob: boolean, setState: FetchStateChange | null): Promise<FetchAttempt> {
    const { rows } = await this.q<FetchRow>(SQL.fetch, [
      this.ns,
      queues,
      invisibilityMs,
      count,
      withJob,
      setState ? JSON.stringify(setState.state) : null,
      setState ? setState.from : null,
    ]);
    let nextVisibleInMs: number | null = null;
    const found: FetchRow[] = [];
    for (const row of rows) {
      if (row.seq !== null) found.push(row);
      else nextVisibleInMs = row.next_visible_ms === null ? null : Number(row.next_visible_ms);
    }
    // RETURNING has no order: priority order, then FIFO. The rows themselves are sorted: a
    // wrapper per row to sort by (with a BigInt of its seq) was garbage in every fetched job.
    if (found.length > 1) found.sort(queues.length === 1 ? bySeq : (a, b) => queues.indexOf(a.queue) - queues.indexOf(b.queue) || bySeq(a, b));
    const entries = found.map((row): FetchedEntry => ({
      jobId: row.job_id,
      queue: row.queue,
      token: `${row.seq}:${row.token}`,
      deliveries: row.deliveries,
      job: !withJob
        ? undefined
        : row.j_id === null
          ? null
          : toJobRecord({
              id: row.j_id,
              type: row.j_type,
              args: row.j_args,
              queue: row.j_queue,
              parameters: row.j_parameters,
              state_name: row.j_state_name,
              state_reason: row.j_state_reason,
              state_data: row.j_state_data,
              state_at: row.j_state_at,
              created_at: row.j_created_at,
              expire_at: row.j_expire_at,
            }),
    }));
    return { entries, nextVisibleInMs };
  }

  subscribeWork(_queues: readonly string[], wake: () => void): () => void {
    return this.listener.subscribe(this.ns, wake);
  }

  #split(entry: LeasedEntry): [string, string] {
    const at = entry.token.indexOf(':');
    return [entry.token.slice(0, at), entry.token.slice(at + 1)];
  }

  async ack(entries: readonly LeasedEntry[]): Promise<boolean[]> {
    const pairs = entries.map((e) => this.#split(e));
    const { rows } = await this.q<{ seq: string; token: string }>(SQL.ack, [this.ns, pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
    // By pair: two leases of one entry can be acknowledged in one call, and only the current one holds.
    const removed = new Set(rows.map((r) => `${r.seq}:${r.token}`));
    return entries.map((e) => removed.has(e.token));
  }

  async requeue(entry: LeasedEntry): Promise<boolean> {
    const [seq, token] = this.#split(entry);
    const ok = (await this.q<{ n: number }>(SQL.requeue, [this.ns, seq, token])).rows[0]!.n > 0;
    if (ok) this.listener.wakeLocal(this.ns);
    return ok;
  }

  async extend(entry: LeasedEntry, ms: number): Promise<boolean> {
    const [seq, token] = this.#split(entry);
    return (await this.q<{ n: number }>(SQL.extend, [this.ns, seq, token, ms])).rows[0]!.n > 0;
  }

  /*
   * Locks are rows with a lease, not pg advisory locks: an advisory lock lives
   * on one session, so each held lock would pin a pooled connection, and a
   * connection blip would silently drop it. A row works from any connection,
   * lapses by time when its holder stops renewing, and its counter is the
   * fencing token, which advisory locks do not give.
   */
  async tryLock(resource: string, ttlMs: number): Promise<number | null> {
    const { token } = (await this.q<{ token: string | null }>(SQL.tryLock, [this.ns, resource, ttlMs])).rows[0]!;
    return token === null ? null : Number(token);
  }

  async extendLock(resource: string, token: number, ttlMs: number): Promise<boolean> {
    return (await this.q<{ n: number }>(SQL.extendLock, [this.ns, resource, token, ttlMs])).rows[0]!.n > 0;
  }

  async releaseLock(resource: string, token: number): Promise<void> {
    await this.q(SQL.releaseLock, [this.ns, resource, token]);
  }

  async announceServer(id: string, info: ServerInfo): Promise<void> {
    await this.q(SQL.announceServer, [this.ns, id, info.queues, info.workerCount]);
  }

  async heartbeat(id: string): Promise<boolean> {
    return (await this.q<{ n: number }>(SQL.heartbeat, [this.ns, id])).rows[0]!.n > 0;
  }

  async removeServer(id: string): Promise<void> {
    await this.q(SQL.removeServer, [this.ns, id]);
  }

  async removeTimedOutServers(timeoutMs: number): Promise<number> {
    return (await this.q<{ n: number }>(SQL.removeTimedOut, [this.ns, timeoutMs])).rows[0]!.n;
  }

  async listServers(): Promise<ServerRecord[]> {
    const { rows } = await this.q<{ id: string; queues: string[]; worker_count: number; started_at: Date; heartbeat_at: Date }>(SQL.listServers, [this.ns]);
    return rows.map((r) => ({ id: r.id, queues: r.queues, workerCount: r.worker_count, startedAt: r.started_at, heartbeatAt: r.heartbeat_at }));
  }

  async queueInfo(): Promise<QueueInfo[]> {
    const { rows } = await this.q<{ queue: string; waiting: number; in_flight: number }>(SQL.queueInfo, [this.ns]);
    return rows.map((r) => ({ name: r.queue, waiting: r.waiting, inFlight: r.in_flight }));
  }

  async queueJobs(queue: string, offset: number, limit: number): Promise<JobRecord[]> {
    return (await this.q<JobRow>(SQL.queueJobs, [this.ns, queue, offset, limit])).rows.map(toJobRecord);
  }

  async stateCounts(): Promise<Record<string, number>> {
    const { rows } = await this.q<{ state_name: string; n: number }>(SQL.stateCounts, [this.ns]);
    return Object.fromEntries(rows.map((r) => [r.state_name, r.n]));
  }

  async jobsInState(state: string, offset: number, limit: number): Promise<JobRecord[]> {
    return (await this.q<JobRow>(SQL.jobsInState, [this.ns, state, offset, limit])).rows.map(toJobRecord);
  }
}

type FoldedOp = WriteOp | (Extract<WriteOp, { op: 'setJobState' }> & { expireMs: number });

/**
 * When every op naming a job sets its state, once per job, perhaps after history entries added
 * to it, and does not expire it at once: the jobs' parts as arrays, one element a job, for
 * jobshard_commit_set_states (0026), and the ops naming no job. Otherwise null.
 */
function statesOnly(ops: readonly FoldedOp[]): JobStates | null {
  const out: JobStates = { jobIds: [], names: [], reasons: [], data: [], entries: [], expireMs: [], others: [] };
  const seen = new Set<string>();
  // History entries added to a job just before its setJobState (a deferred Processing mark).
  let added: { jobId: string; entries: HistoryEntry[] } | null = null;
  for (const op of ops) {
    if (!('jobId' in op)) out.others.push(op);
    else if (op.op === 'addJobState' && (added === null || added.jobId === op.jobId))
      (added ??= { jobId: op.jobId, entries: [] }).entries.push(untimed(op.state));
    else if (op.op !== 'setJobState' || seen.has(op.jobId) || ('expireMs' in op && !(op.expireMs > 0))) return null;
    else if (added !== null && added.jobId !== op.jobId) return null;
    else {
      const state = untimed(op.state);
      seen.add(op.jobId);
      out.jobIds.push(op.jobId);
      out.names.push(state.n);
      out.reasons.push(state.r);
      out.data.push(state.d);
      out.entries.push(JSON.stringify(added ? [...added.entries, state] : [state]));
      out.expireMs.push('expireMs' in op ? op.expireMs : null);
      added = null;
    }
  }
  return added === null && out.jobIds.length > 0 ? out : null;
}

/** jobshard_commit_set_states' arrays (0026): element i of each is job i's. */
interface JobStates {
  jobIds: string[];
  names: string[];
  reasons: Array<string | null>;
  data: Array<Record<string, string>>;
  /** Each job's new history entries, as JSON text with their time left to the call. */
  entries: string[];
  expireMs: Array<number | null>;
  others: FoldedOp[];
}

/**
 * A state as a history entry in its stored form (jobshard_history_entry, 0015) with its time "t"
 * 0, which jobshard_commit_set_states replaces with the commit's time (0026). Its other values
 * are strings, so "t":0} in the JSON text is this time alone.
 */
function untimed(state: NewState): HistoryEntry & { d: Record<string, string> } {
  return { n: state.name, r: state.reason ?? null, d: state.data ?? {}, t: 0 };
}

/**
 * When every op naming a job expires it with 0 ms (deletes it: a worker's outcomes under
 * retentionMs 0): the ops naming no job, for jobshard_commit_deleting (0025), which deletes the
 * jobs by id. Otherwise null.
 */
function deletesOnly(ops: readonly FoldedOp[]): FoldedOp[] | null {
  const others: FoldedOp[] = [];
  let any = false;
  for (const op of ops) {
    if (!('jobId' in op)) others.push(op);
    else if (op.op === 'expireJob' && op.ms <= 0) any = true;
    else return null;
  }
  return any ? others : null;
}

/**
 * An expireJob right after a setJobState of the same job rides on it (expireMs, see
 * 0008-state-with-expiry.sql): one UPDATE of the job's row instead of two.
 */
function foldExpiry(ops: readonly WriteOp[]): FoldedOp[] {
  const out: FoldedOp[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const next = ops[i + 1];
    if (op.op === 'setJobState' && next?.op === 'expireJob' && next.jobId === op.jobId) {
      out.push({ ...op, expireMs: next.ms });
      i++;
    } else out.push(op);
  }
  return out;
}

/** Sequence numbers (bigserial, decimal without leading zeros) in numeric order, without parsing them. */
function bySeq(a: FetchRow, b: FetchRow): number {
  const x = a.seq!,
    y = b.seq!;
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}
