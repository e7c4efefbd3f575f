import { DUE_SETS } from '../../storage/due-sets.js';
import type { FetchAttempt, LeasedEntry, NamespaceDriver, NewJobRow } from '../../storage/driver.js';
import { JobNotFoundError, LeaseLostError, UnitFrozenError, UnitMovedError } from '../../storage/errors.js';
import { ACTIVE, effective, importRefusal, type UnitOwnership } from '../../storage/ownership.js';
import type { JobRecord, NewState, StateRecord } from '../../storage/job.js';
import type { QueueInfo } from '../../storage/monitoring.js';
import type { FetchStateChange } from '../../storage/queue.js';
import type { ServerInfo, ServerRecord } from '../../storage/servers.js';
import type { WriteOp } from '../../storage/transaction.js';
import { RedisData, type RunCommand } from './redis-data.js';
import { isDataKey, type RedisKeys } from './redis-keys.js';
import type { RunScript, ScriptName } from './redis-scripts.js';
import type { RedisWaker } from './redis-waker.js';
import { pushOpArgs, splitToken, stateArgs } from './redis-args.js';
import { fromPairs } from './redis-replies.js';
import { exportWithIdMarks, refsWithIdMarks } from '../../storage/id-marks.js';
import { beginRedisImport, exportRedisRefs, exportRedisUnit, type ReadJobs } from './redis-unit-stream.js';
import { BOOKKEEPING_KEYS, listByRegistry, namespacePattern, registryHoldsData, scanKeys, stateIndexes } from './redis-unit-listing.js';
import type { ImportFence, ItemRef, UnitImport, UnitItem } from '../../storage/unit-stream.js';

const NO_STATE = ['', '', '', '', '', ''];

/**
 * A job as job_record (common.lua) returns it: its id, its fields in JOB_FIELDS order (type, args,
 * queue, createdAt, expireAt, stateName, stateReason, stateData, stateAt; null where unset) and its
 * parameters as an HGETALL list.
 */
type JobReply = [id: string, values: Array<string | null>, params: string[]];

function toJobRecord([id, v, params]: JobReply): JobRecord {
  return {
    id,
    type: v[0]!,
    args: JSON.parse(v[1]!),
    queue: v[2]!,
    state: v[5] ?? null,
    stateReason: v[6] ?? null,
    stateData: v[7] ? JSON.parse(v[7]) : {},
    stateAt: v[8] ? new Date(Number(v[8])) : null,
    createdAt: new Date(Number(v[3])),
    parameters: params.length ? fromPairs(params) : {},
    expireAt: v[4] ? new Date(Number(v[4])) : null,
  };
}

/** A fetched job that took the fetch's new state: the state it took, at `at` (the reply comes as read before). */
function withState(job: JobRecord, s: NewState, at: Date): JobRecord {
  job.state = s.name;
  job.stateReason = s.reason ?? null;
  job.stateData = { ...s.data };
  job.stateAt = at;
  return job;
}

/** Keys a registered unit's cleanup unlinks per call (#clearListed). */
const CLEAR_SLICE = 100;

/** One namespace of a Redis backend: every call is one script or one native command. */
export class RedisNamespace implements NamespaceDriver {
  readonly data: RedisData;
  /**
   * Batching saves the client's per-command cost, and one fetch serves many workers woken at
   * once. Measured with bench/peers.ts: 2 batches in flight beat 1 and 4; none was worst.
   */
  readonly batchInFlight = 2;
  /**
   * Producers that await each enqueue wait on the round trip of their batch. With two create
   * batches in flight, Redis sat idle between them; with up to 64 calls a batch, the calls
   * resolved together came back together, so a few large batches took turns. Smaller batches,
   * many in flight, keep Redis fed. 32 producers, 20,000 enqueues each round, against BullMQ
   * alternating in the same process (throwaway harness), jobshard's rate over BullMQ's, three
   * rounds a run: 0.46-0.64 with 2 in flight and 64 a batch (1 run); 0.71-1.21, median 0.87, with
   * 64 and 64 (4 runs); 0.95-1.36, median 1.07, with 64 and 8 (4 runs); 0.75-0.93 with 64 and 1
   * (1 run: a script call per create, and more CPU on both sides).
   */
  readonly createBatches = { inFlight: 64, max: 8 } as const;

  constructor(
    readonly run: RunCommand,
    readonly script: RunScript,
    readonly keys: RedisKeys,
    readonly waker: RedisWaker,
    readonly pollIntervalMs: number,
    readonly register: () => Promise<void>,
  ) {
    this.data = new RedisData(run, keys);
  }

  get namespace(): string {
    return this.keys.namespace;
  }

  #call(name: ScriptName, args: Array<string | number>, keys: string[] = [this.keys.route]): Promise<unknown> {
    args.unshift(this.keys.base);
    return this.script(name, keys, args).catch((err: Error) => {
      throw this.#refusal(err) ?? err;
    });
  }

  /** The typed error of a script's refusal (common.lua refusal()), or null for any other error. */
  #refusal(err: Error): Error | null {
    const m = /^UNIT_(MOVED|FROZEN) (\d+)(?: (.*))?$/.exec(err.message ?? '');
    if (!m) return null;
    return m[1] === 'MOVED' ? new UnitMovedError(this.namespace, m[3]!, Number(m[2])) : new UnitFrozenError(this.namespace, Number(m[2]));
  }

  async ownership(): Promise<UnitOwnership> {
    const [state, to, epoch, until] = await this.run((c) => c.hmget(this.keys.ownership, 'state', 'to', 'epoch', 'until'));
    if (state === 'moved') return { state, to: to!, epoch: Number(epoch) };
    if (state === 'frozen') return effective({ state, until: Number(until) });
    return ACTIVE;
  }

  async setOwnership(own: UnitOwnership): Promise<void> {
    // Scripts run one at a time: once this returns, none started under the old record is still running.
    await this.script(
      'set-ownership',
      [this.keys.route],
      [
        this.keys.base,
        own.state,
        own.state === 'moved' ? own.to : '',
        own.state === 'moved' ? String(own.epoch) : '',
        own.state === 'frozen' ? String(Math.round(own.until)) : '',
      ],
    );
  }

  /**
   * Whether the unit holds data. `marked`: every script that writes on this prefix sets the `used`
   * field of the ownership record (common.lua refusal), so a unit without it holds nothing, and one
   * with an id counter or a server does: answered without a SCAN, which reads the whole keyspace.
   * Other marked units are answered by their registry when they have one (registryHoldsData).
   */
  async hasData(marked = false): Promise<boolean> {
    if (marked) {
      const base = this.keys.base;
      const [marks, fixed] = await this.run((c) =>
        c
          .pipeline()
          .hmget(this.keys.ownership, 'used', 'reg')
          .exists(`${base}seq:job`, `${base}seq:q`, `${base}servers`)
          .exec()
          .then((replies) =>
            replies!.map(([err, v]) => {
              if (err) throw err;
              return v;
            }),
          ),
      );
      const [used, registered] = marks as Array<string | null>;
      if (used === null) return false;
      if ((fixed as number) > 0) return true;
      if (registered === '1') return registryHoldsData(this.run, this.keys);
    }
    return scanKeys(this.run, namespacePattern(this.keys), (found) => found.some((k) => isDataKey(k.slice(this.keys.base.length))));
  }

  readonly #readJobs: ReadJobs = (ids) => this.script('export-jobs', [this.keys.route], [this.keys.base, ...ids]) as ReturnType<ReadJobs>;

  exportUnit(): AsyncIterable<UnitItem[]> {
    return exportWithIdMarks(exportRedisUnit(this.run, this.keys, this.#readJobs), 'tagged', this.#drawnIds);
  }

  /** The namespace's id counter: every native id it drew, deleted jobs' included, is at or below it. */
  readonly #drawnIds = async () => Number((await this.run((c) => c.get(`${this.keys.base}seq:job`))) ?? 0);

  beginImport(fence?: ImportFence): UnitImport {
    let registered = false;
    const lua = async (items: Array<Record<string, unknown>>) => {
      if (!registered) await this.register();
      registered = true;
      const args = [this.keys.base, this.keys.wakeChannel, this.waker.origin, JSON.stringify(items), fence ? String(fence.epoch) : ''];
      try {
        return (await this.script('import', [this.keys.route], args)) as string[];
      } catch (err) {
        if (!fence || !/\bIMPORT_FENCED\b/.test((err as Error).message ?? '')) throw err;
        throw importRefusal(this.namespace, await this.ownership(), fence.epoch) ?? err;
      }
    };
    // Ids of this namespace's own form ("<n>.<tag>") are the ones a native id could repeat: the counter moves past them.
    return beginRedisImport(lua, this.keys, async (maxId) => {
      // Sent empty too when fenced: the script's fence check refuses a finish the move no longer owns.
      if (maxId > 0 || fence) await lua(maxId > 0 ? [{ kind: 'reserve', id: String(maxId) }] : []);
      this.waker.wakeLocal(this.keys.wakeChannel);
    });
  }

  async trackChanges(on: boolean): Promise<void> {
    await this.script('changes', [this.keys.route], [this.keys.base, on ? 'on' : 'off']);
  }

  async takeChanges(): Promise<ItemRef[]> {
    return (await this.script('changes', [this.keys.route], [this.keys.base, 'take'])) as string[];
  }

  async exportRefs(refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return refsWithIdMarks(await exportRedisRefs(this.run, this.keys, this.#readJobs, refs), refs, 'tagged', this.#drawnIds);
  }

  async clearUnit(): Promise<void> {
    // The id counter goes, but how far it got stays in the ownership record: should the unit come
    // back, its new ids start above every id it drew here, deleted jobs' included (import.lua).
    const [drawn, kept] = await this.run((c) => Promise.all([c.get(`${this.keys.base}seq:job`), c.hget(this.keys.ownership, 'idmark')]));
    if (drawn !== null && Number(drawn) > Number(kept ?? 0)) await this.run((c) => c.hset(this.keys.ownership, 'idmark', drawn));
    if ((await this.run((c) => c.hget(this.keys.ownership, 'reg'))) === '1') await this.#clearListed();
    else await this.#clearScanned();
    await this.run((c) => c.hdel(this.keys.ownership, 'used', 'reg'));
  }

  /**
   * A registered unit's keys, as its listing names them (redis-unit-listing.ts), and its
   * bookkeeping, unlinked CLEAR_SLICE at a time. The unit is `moved` by now, so nothing writes to it
   * meanwhile. The data goes first and the indexes and registry that list it last: a cleanup cut
   * short (its mover killed) and run again still finds every key left.
   */
  async #clearListed(): Promise<void> {
    const base = this.keys.base;
    const listing = await listByRegistry(this.run, this.keys);
    const indexes = await stateIndexes(this.run, this.keys);
    const doomed: string[] = [];
    for (const id of listing.jobIds) doomed.push(`${base}job:${id}`, `${base}job:${id}:p`, `${base}job:${id}:h`);
    for (const name of listing.names) {
      doomed.push(base + name);
      if (name.startsWith('q:')) doomed.push(`${base}ql:${name.slice(2)}`, `${base}qd:${name.slice(2)}`);
      else if (name.startsWith('fence:')) doomed.push(`${base}lock:${name.slice(6)}`);
    }
    for (const name of [...indexes, ...BOOKKEEPING_KEYS]) doomed.push(base + name);
    // One slice at a time, so other tenants' commands get their turns between them. An UNLINK of
    // 1,000 keys held Redis for about 2.5 ms, and 4 other tenants kept 0.10-0.13x of their rate
    // during the cleanup; with 100, 0.40-0.43x for about the same work lost (bench:redis-listing).
    for (let i = 0; i < doomed.length; i += CLEAR_SLICE) {
      const slice = doomed.slice(i, i + CLEAR_SLICE);
      await this.run((c) => c.unlink(...slice));
    }
  }

  async #clearScanned(): Promise<void> {
    // Each page unlinked as the scan finds it, not the whole listing held first. A key removed
    // during a SCAN does not hide the others from it. One slot (the namespace's hash tag): a
    // multi-key UNLINK is fine on a Cluster too.
    const unlinks: Array<Promise<unknown>> = [];
    let failure: unknown = null;
    await scanKeys(this.run, namespacePattern(this.keys), (found) => {
      const doomed = found.filter((k) => k !== this.keys.ownership);
      if (doomed.length > 0)
        unlinks.push(
          this.run((c) => c.unlink(...doomed)).catch((err: unknown) => {
            failure ??= err;
          }),
        );
      return false;
    });
    await Promise.all(unlinks);
    if (failure !== null) throw failure;
  }

  async createJob(row: NewJobRow): Promise<string> {
    return (await this.createJobs([row]))[0]!;
  }

  /** Concurrent creates share one script call: one command to write and to run instead of one per job. */
  async createJobs(rows: readonly NewJobRow[]): Promise<string[]> {
    // Registered for monitoring (Backend.namespaces) and the queue depths: once per namespace per process.
    await this.register();
    const args: Array<string | number> = [this.keys.idTag, this.keys.wakeChannel, this.waker.origin];
    for (const r of rows) {
      args.push(
        r.type,
        r.argsJson,
        r.queue,
        JSON.stringify(r.parameters),
        r.expireInMs === null ? '' : String(r.expireInMs),
        r.enqueue ? '1' : '',
        ...(r.state ? ['1', ...stateArgs(r.state)] : NO_STATE),
      );
    }
    const ids = (await this.#call('create-job', args)) as string[];
    if (rows.some((r) => r.enqueue)) this.waker.wakeLocal(this.keys.wakeChannel);
    return ids;
  }

  async getJob(id: string): Promise<JobRecord | null> {
    if (!this.keys.ownsJobId(id)) return null;
    const reply = (await this.#call('read-job', ['record', id])) as JobReply | null;
    return reply ? toJobRecord(reply) : null;
  }

  async getHistory(id: string): Promise<StateRecord[] | null> {
    if (!this.keys.ownsJobId(id)) return null;
    const reply = (await this.#call('read-job', ['history', id])) as string[] | null;
    if (!reply) return null;
    return reply.slice(1).map((e) => {
      const s = JSON.parse(e) as { name: string; reason?: string; data: Record<string, string> | []; createdAt: number };
      return { name: s.name, reason: s.reason ?? null, data: Array.isArray(s.data) ? {} : s.data, createdAt: new Date(s.createdAt) };
    });
  }

  async getParameter(id: string, name: string): Promise<string | null | undefined> {
    if (!this.keys.ownsJobId(id)) return undefined;
    const [exists, value] = (await this.#call('read-job', ['param', id, name])) as [number, string | null];
    return exists ? (value ?? null) : undefined;
  }

  async setParameter(id: string, name: string, value: string): Promise<boolean> {
    if (!this.keys.ownsJobId(id)) return false;
    return (await this.#call('set-param', [id, name, value])) === 1;
  }

  async commit(ops: readonly WriteOp[]): Promise<void> {
    for (const op of ops) if ('jobId' in op && !this.keys.ownsJobId(op.jobId)) throw new JobNotFoundError(op.jobId);
    // The registry lists namespaces with queues (monitoring) or due members (the Cluster's unitsWithDue).
    if (ops.some((op) => op.op === 'enqueue' || (op.op === 'setAdd' && DUE_SETS.includes(op.key)))) await this.register();
    // The second element names what failed: the job id, or the queue of the lost lease.
    const args = [this.keys.wakeChannel, this.waker.origin];
    pushOpArgs(ops, args);
    const [status, what] = (await this.#call('commit', args)) as [string, string?];
    if (status === 'JOB_NOT_FOUND') throw new JobNotFoundError(what!);
    if (status === 'LEASE_LOST') throw new LeaseLostError(`cannot remove a job from queue '${what!}' in this transaction`);
    if (ops.some((op) => op.op === 'enqueue')) this.waker.wakeLocal(this.keys.wakeChannel);
  }

  async tryFetch(queues: readonly string[], invisibilityMs: number, count: number, withJob: boolean, setState: FetchStateChange | null): Promise<FetchAttempt> {
    const change = setState ? [String(setState.from.length), ...stateArgs(setState.state), ...setState.from] : ['0'];
    const [rows, nextVisible, now] = (await this.#call('fetch', [invisibilityMs, count, withJob ? '1' : '', ...change, ...queues])) as [
      Array<[string, string, number, JobReply | null, number]>,
      number,
      number,
    ];
    const at = new Date(now);
    return {
      entries: rows.map(([member, queue, deliveries, job, changed]) => ({
        jobId: member.slice(member.indexOf(':') + 1),
        queue,
        token: `${member}#${deliveries}`,
        deliveries,
        job: withJob ? (job ? (changed ? withState(toJobRecord(job), setState!.state, at) : toJobRecord(job)) : null) : undefined,
      })),
      nextVisibleInMs: nextVisible < 0 ? null : nextVisible,
    };
  }

  subscribeWork(_queues: readonly string[], wake: () => void): () => void {
    return this.waker.subscribe(this.keys.wakeChannel, wake);
  }

  async #lease(action: 'ack' | 'requeue' | 'extend', entries: readonly LeasedEntry[], extra: string | number): Promise<boolean[]> {
    const args: Array<string | number> = [action, extra, this.waker.origin];
    for (const e of entries) {
      const { member, lease } = splitToken(e.token);
      args.push(e.queue, member, lease);
    }
    return ((await this.#call('lease', args)) as number[]).map((n) => n === 1);
  }

  ack(entries: readonly LeasedEntry[]): Promise<boolean[]> {
    return this.#lease('ack', entries, '');
  }

  async requeue(entry: LeasedEntry): Promise<boolean> {
    const [ok] = await this.#lease('requeue', [entry], this.keys.wakeChannel);
    if (ok) this.waker.wakeLocal(this.keys.wakeChannel);
    return ok!;
  }

  async extend(entry: LeasedEntry, ms: number): Promise<boolean> {
    return (await this.#lease('extend', [entry], ms))[0]!;
  }

  async tryLock(resource: string, ttlMs: number): Promise<number | null> {
    const token = (await this.#call('lock', ['acquire', ttlMs, ''], [this.keys.lock(resource), this.keys.fence(resource)])) as number | null;
    return token ?? null;
  }

  async extendLock(resource: string, token: number, ttlMs: number): Promise<boolean> {
    return (await this.#call('lock', ['extend', ttlMs, String(token)], [this.keys.lock(resource), this.keys.fence(resource)])) === 1;
  }

  async releaseLock(resource: string, token: number): Promise<void> {
    await this.#call('lock', ['release', 0, String(token)], [this.keys.lock(resource), this.keys.fence(resource)]);
  }

  async announceServer(id: string, info: ServerInfo): Promise<void> {
    await this.#call('servers', ['announce', id, JSON.stringify(info)]);
  }

  async heartbeat(id: string): Promise<boolean> {
    return (await this.#call('servers', ['heartbeat', id])) === 1;
  }

  async removeServer(id: string): Promise<void> {
    await this.#call('servers', ['remove', id]);
  }

  async removeTimedOutServers(timeoutMs: number): Promise<number> {
    return (await this.#call('servers', ['timed-out', timeoutMs])) as number;
  }

  async listServers(): Promise<ServerRecord[]> {
    const rows = (await this.#call('servers', ['list'])) as Array<[string, string, string]>;
    return rows
      .map(([id, json, beat]) => {
        const info = JSON.parse(json) as { queues: string[]; workerCount: number; startedAt: number };
        return { id, queues: info.queues, workerCount: info.workerCount, startedAt: new Date(info.startedAt), heartbeatAt: new Date(Number(beat)) };
      })
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async queueInfo(): Promise<QueueInfo[]> {
    const rows = (await this.#call('monitor', ['queues'])) as Array<[string, number, number]>;
    return rows.map(([name, waiting, inFlight]) => ({ name, waiting, inFlight })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async queueJobs(queue: string, offset: number, limit: number): Promise<JobRecord[]> {
    return ((await this.#call('monitor', ['queue-jobs', queue, offset, limit])) as JobReply[]).map(toJobRecord);
  }

  async stateCounts(): Promise<Record<string, number>> {
    const rows = (await this.#call('monitor', ['state-counts'])) as Array<[string, number]>;
    return Object.fromEntries(rows);
  }

  async jobsInState(state: string, offset: number, limit: number): Promise<JobRecord[]> {
    return ((await this.#call('monitor', ['jobs-in-state', state, offset, limit])) as JobReply[]).map(toJobRecord);
  }
}
