import type { Directory } from '../directory/directory.js';
import type { DirectoryRecord, ShardState } from '../directory/directory-record.js';
import { SLOT_COUNT } from '../shards/slot-table.js';
import { placementOf } from '../directory/directory-record.js';
import { backendsOf, type Shard, type ShardHealth } from '../shards/shard.js';
import { InvalidArgumentError, ShardNotEmptyError } from '../storage/errors.js';
import { checkSlots, moveSlots, planRebalance, runRebalance, type RebalancePlan, type SlotMoveResult } from '../directory/slot-moves.js';
import {
  checkFreezeMs,
  checkPace,
  moveUnit,
  recoverMoves,
  type MoveOptions,
  type MoveProgress,
  type RecoveredMove,
  type UnitMoveResult,
} from '../directory/unit-move.js';
import type { MoveRecord } from '../directory/directory-record.js';
import { readProgress, type PublishedProgress } from '../directory/move-progress.js';
import type { QueueInfo } from '../storage/monitoring.js';
import type { Backend, Storage } from '../storage/storage.js';
import { checkGroupName, checkTenantId } from '../tenancy/tenant-id.js';
import { shardSpecSchema, type ShardSpec } from '../tenancy/tenant-map.js';
import { unitKey } from '../tenancy/unit.js';
import { ALL_QUEUES, PAUSE_CHANGES_COUNTER, PAUSED_HASH, PAUSES_NAMESPACE, pausesOf, type Pauses } from '../storage/pauses.js';
import { checkName } from '../storage/validate.js';
import { backendFromSpec } from './backend-from-spec.js';
import type { TenantPlacement } from './router.js';
import type { UnitRoute } from './unit-route.js';

/** The directory as operators read it. */
export interface DirectoryView {
  epoch: number;
  /** When this epoch was written (ms since the Unix epoch). */
  writtenAt: number;
  shards: Array<{ id: string; weight: number; state: ShardState; slots: number; pins: number }>;
  /** unit key (tenant or tenant:group) -> shard. */
  pins: Record<string, string>;
  /** tenant -> group -> queues. */
  groups: Record<string, Record<string, string[]>>;
}

/** The operators' view across tenants, and the placement directory's controls. */
export interface RouterAdmin {
  /** Each shard's circuit state and last error, as this router sees them (no call). */
  health(): ShardHealth[];
  /** Slots owned per shard and the table's version, by the directory this router routes by now. */
  slots(): { version: string; perShard: Record<string, number> };
  /**
   * Queue lengths per shard: of the given tenants, or (no argument) of every
   * namespace on every shard, with one call per backend.
   */
  queues(tenants?: readonly string[]): Promise<Array<{ shard: string; tenant: string; group: string | null } & QueueInfo>>;
  /** Job counts per state, per tenant (all its units summed). */
  tenantCounts(tenants: readonly string[]): Promise<Record<string, Record<string, number>>>;
  /** The stored directory, read fresh: epoch, shards with their slots and pins, pins and groups. */
  directory(): Promise<DirectoryView>;
  /** Where a tenant lives, with the directory epoch that says so. */
  placementOf(tenant: string): Promise<TenantPlacement & { epoch: number }>;
  /**
   * Pauses a tenant's queue (or, without `queue`, the whole tenant), durably in its home unit:
   * servers over a router stop starting its jobs within a second; jobs already running finish,
   * and enqueues still succeed. A queue may be paused before its first job.
   */
  pause(target: PauseTarget): Promise<Pauses>;
  /** Undoes pause() for the same target (resuming the whole tenant leaves queue pauses as they are). */
  resume(target: PauseTarget): Promise<Pauses>;
  /** What is paused for a tenant. */
  pauses(tenant: string): Promise<Pauses>;
  /**
   * Registers a shard with this router and in the directory. It owns no
   * slots, so nothing moves; other routers need it in their config before
   * anything is placed on it.
   */
  addShard(spec: ShardSpec): Promise<DirectoryView>;
  /**
   * Pins a unit (`tenant` or `tenant:group`) to a shard, for a unit that
   * holds no data (UnitNotEmptyError otherwise: that takes a move).
   */
  pin(unit: string, shard: string): Promise<DirectoryView>;
  /** Changes the slot share the rebalancer aims for; moves nothing. */
  setWeight(shard: string, weight: number): Promise<DirectoryView>;
  /** `draining`: no pins or moves may target the shard (it is on its way out). */
  setShardState(shard: string, state: ShardState): Promise<DirectoryView>;
  /** Removes a shard that owns no slots and no pins (ShardNotEmptyError otherwise). Its id cannot be reused. */
  removeShard(shard: string): Promise<DirectoryView>;
  /**
   * Moves a unit (`tenant` or `tenant:group`) with all its data to `toShard`,
   * online: its writes pause while the frozen source is copied, then resume
   * on the target; job ids, leases and locks stay valid (docs/placement.md).
   */
  moveUnit(unit: string, toShard: string, options?: MoveOptions): MoveHandle<UnitMoveResult>;
  /** Moves every unit of the slots, then the slots themselves, to `toShard`. */
  moveSlots(slots: readonly number[], toShard: string, options?: MoveOptions): MoveHandle<SlotMoveResult>;
  /**
   * Plans slot transfers toward the shards' weights and, unless `dryRun`,
   * runs them: slots holding no unit by one directory write, the others by
   * moving their units. `thresholdSlots` (default 1% of the slots): shards
   * closer than that to their target are left alone.
   */
  rebalance(options?: RebalanceOptions): MoveHandle<RebalanceResult>;
  /** Marks the shard draining and moves its pins and slots to the active shards, so it can be removed. */
  drainShard(shard: string, options?: MoveOptions): MoveHandle<DrainResult>;
  /** Finishes moves whose mover died after the flip, and rolls back those that died before it. */
  resumeMoves(): Promise<RecoveredMove[]>;
  /**
   * Moves recorded in the directory now (under way, or left by a mover that died), each with the
   * counts its mover last published (null when none: it has not copied yet, or it died long ago).
   */
  moves(): Promise<Array<MoveRecord & { progress: PublishedProgress | null }>>;
}

/** A move under way: its progress (live) and its outcome. */
export interface MoveHandle<R> {
  readonly progress: Readonly<MoveProgress>;
  readonly done: Promise<R>;
}

export interface RebalanceOptions extends MoveOptions {
  dryRun?: boolean;
  thresholdSlots?: number;
}

export interface RebalanceResult {
  plan: RebalancePlan;
  /** Empty for a dry run. */
  results: SlotMoveResult[];
}

export interface DrainResult {
  shard: string;
  units: UnitMoveResult[];
  rebalance: RebalanceResult;
}

export interface AdminHost {
  directory: Directory;
  shards: ReadonlyMap<string, Shard>;
  route: UnitRoute;
  tenant(id: string): Storage;
  shardFor(id: string): TenantPlacement;
  addShard(id: string, backend: Backend): Shard;
}

export interface PauseTarget {
  tenant: string;
  /** One queue of the tenant; absent: the whole tenant. */
  queue?: string;
}

/** Writes a pause ('1') or its end ('0') into the tenant's home unit; bad input writes nothing. */
async function setPause(host: AdminHost, target: PauseTarget, on: boolean): Promise<Pauses> {
  if (target === null || typeof target !== 'object') throw new InvalidArgumentError('pause and resume take { tenant, queue? }');
  const tenant = checkTenantId(target.tenant);
  const field = target.queue === undefined ? ALL_QUEUES : checkName('queue', target.queue);
  await host.directory.ready();
  // The unit's own storage: a tenant's transactions may not write jobshard.* keys, jobshard may.
  const home = host.route.storage({ tenant, group: null });
  await home.transaction((tx) => tx.hashSet(PAUSED_HASH, { [field]: on ? '1' : '0' }));
  const pauses = pausesOf(await home.data.hashGetAll(PAUSED_HASH));
  // Servers over a router trust what they read of a tenant's pauses until one of these counters
  // moves. Every shard's, so that a server that cannot read one shard still sees the others move;
  // the first that lands is enough, and the call does not wait for the rest (a stalled shard would
  // hold it up). If none lands the call fails with the pause written: servers see it at the next
  // change, or within PAUSE_MAX_AGE_MS; the same call again writes the same and counts it again.
  const bumps = backendsOf(host.shards.values()).map((b) => b.storage(PAUSES_NAMESPACE).transaction((tx) => tx.counterIncrement(PAUSE_CHANGES_COUNTER)));
  for (const bump of bumps) bump.catch(() => {});
  try {
    await Promise.any(bumps);
  } catch (err) {
    throw (err as AggregateError).errors[0];
  }
  return pauses;
}

export function viewOf(record: DirectoryRecord): DirectoryView {
  const counts = placementOf(record).table.counts();
  const pinCounts = new Map<string, number>();
  for (const shard of Object.values(record.pins)) pinCounts.set(shard, (pinCounts.get(shard) ?? 0) + 1);
  return {
    epoch: record.epoch,
    writtenAt: record.writtenAt,
    shards: record.shards.map((s) => ({ ...s, slots: counts.get(s.id) ?? 0, pins: pinCounts.get(s.id) ?? 0 })),
    pins: { ...record.pins },
    groups: structuredClone(record.groups),
  };
}

function known(record: DirectoryRecord, id: unknown): DirectoryRecord['shards'][number] {
  if (typeof id !== 'string') throw new InvalidArgumentError(`a shard id must be a string, got ${id === null ? 'null' : typeof id}`);
  const s = record.shards.find((x) => x.id === id);
  if (!s) throw new InvalidArgumentError(`unknown shard '${id}' (the directory at epoch ${record.epoch} has: ${record.shards.map((x) => x.id).join(', ')})`);
  return s;
}

function newProgress(): MoveProgress {
  return { phase: 'start', unit: null, unitsDone: 0, unitsTotal: 0, jobsCopied: 0, itemsCopied: 0, pausesMs: [] };
}

function handle<R>(progress: MoveProgress, run: () => Promise<R>): MoveHandle<R> {
  const done = Promise.resolve()
    .then(run)
    .then(
      (r) => {
        progress.phase = 'done';
        return r;
      },
      (err: unknown) => {
        if (progress.phase !== 'rolled-back') progress.phase = 'failed';
        throw err;
      },
    );
  // A caller that only watches progress must not crash the process with an unhandled rejection.
  done.catch(() => {});
  return { progress, done };
}

/** `tenant` or `tenant:group`, with a valid tenant id and group name. */
function parseUnit(unit: unknown): { tenant: string; group: string | undefined } {
  if (typeof unit !== 'string') throw new InvalidArgumentError(`a unit is 'tenant' or 'tenant:group', got ${unit === null ? 'null' : typeof unit}`);
  const [tenant, group, ...rest] = unit.split(':');
  if (rest.length) throw new InvalidArgumentError(`a unit is 'tenant' or 'tenant:group', got '${unit}'`);
  checkTenantId(tenant);
  if (group !== undefined) checkGroupName(group);
  return { tenant: tenant!, group };
}

/** A unit to move: parsed, and its group must exist in the record. */
function checkUnit(record: DirectoryRecord, unit: unknown): string {
  const { tenant, group } = parseUnit(unit);
  if (group !== undefined && !record.groups[tenant]?.[group])
    throw new InvalidArgumentError(`unknown unit '${String(unit)}': tenant '${tenant}' has no queue group '${group}' in the directory`);
  return unit as string;
}

export function routerAdmin(host: AdminHost, settleMs = 2_000): RouterAdmin {
  const { directory } = host;
  const placement = () => directory.placement;

  /** A shard a move may target: known, active and configured here. */
  function target(record: DirectoryRecord, shard: unknown): string {
    const s = known(record, shard);
    if (s.state === 'draining') throw new InvalidArgumentError(`shard '${s.id}' is draining (being removed); move to another shard`);
    if (!host.shards.has(s.id)) throw new InvalidArgumentError(`shard '${s.id}' is not in this router's configuration`);
    return s.id;
  }

  /** The active shard with the fewest slots and pins per weight, other than `not`. */
  function roomiest(record: DirectoryRecord, not: string): string {
    const view = viewOf(record).shards.filter((s) => s.state === 'active' && s.id !== not && host.shards.has(s.id));
    if (view.length === 0) throw new InvalidArgumentError(`no other active shard to move to from '${not}'`);
    return view.sort((a, b) => (a.slots + a.pins) / a.weight - (b.slots + b.pins) / b.weight)[0]!.id;
  }

  const pinTo = (next: DirectoryRecord, unit: string, to: string) => {
    // Where the table already sends the unit, no pin is needed.
    if (placementOf(next).table.shardOf(unit) === to) delete next.pins[unit];
    else next.pins[unit] = to;
  };

  async function rebalance(options: RebalanceOptions, progress: MoveProgress): Promise<RebalanceResult> {
    const threshold = options.thresholdSlots ?? Math.ceil(SLOT_COUNT / 100);
    if (!Number.isInteger(threshold) || threshold < 0)
      throw new InvalidArgumentError(`thresholdSlots must be an integer >= 0, got ${String(options.thresholdSlots)}`);
    checkFreezeMs(options.freezeMs);
    checkPace(options);
    const plan = await planRebalance(directory, threshold);
    if (options.dryRun) return { plan, results: [] };
    return { plan, results: await runRebalance(directory, plan, options, progress, settleMs) };
  }

  async function allQueues() {
    const seen = new Set<object>();
    const perShard = await Promise.all(
      [...host.shards.values()].map(async (shard) => {
        if (seen.has(shard.backend)) return []; // one backend serving several shard ids is asked once
        seen.add(shard.backend);
        return (await shard.backend.queueDepths()).map((d) => {
          const [tenant, group] = d.namespace.split(':') as [string, string?];
          // Name the shard the unit is placed on when that shard is this backend (several ids may share one).
          const placed = placement().shardOf({ tenant, group: group ?? null });
          const id = host.shards.get(placed)?.backend === shard.backend ? placed : shard.id;
          return { shard: id, tenant, group: group ?? null, name: d.queue, waiting: d.waiting, inFlight: d.inFlight };
        });
      }),
    );
    return perShard.flat();
  }

  return {
    health: () => [...host.shards.values()].map((s) => s.health()),
    slots: () => ({ version: placement().table.version, perShard: Object.fromEntries(placement().table.counts()) }),
    queues: async (tenants) => {
      await directory.ready();
      if (tenants === undefined) return allQueues();
      const rows = await Promise.all(
        tenants.flatMap((t) =>
          placement()
            .unitsOf(checkTenantId(t))
            .map(async (u) => {
              const shard = placement().shardOf(u);
              const qs = await host.route.storage(u).monitoring.queues();
              return qs.map((q) => ({ shard, tenant: u.tenant, group: u.group, ...q }));
            }),
        ),
      );
      return rows.flat();
    },
    tenantCounts: async (tenants) => {
      const out: Record<string, Record<string, number>> = {};
      await Promise.all(
        tenants.map(async (t) => {
          out[t] = await host.tenant(t).monitoring.stateCounts();
        }),
      );
      return out;
    },
    directory: async () => {
      await directory.ready();
      await directory.refresh();
      return viewOf(directory.record);
    },
    pause: (target) => setPause(host, target, true),
    resume: (target) => setPause(host, target, false),
    pauses: async (tenant) => {
      checkTenantId(tenant);
      await directory.ready();
      return pausesOf(await host.route.storage({ tenant, group: null }).data.hashGetAll(PAUSED_HASH));
    },
    placementOf: async (tenant) => {
      checkTenantId(tenant);
      await directory.ready();
      return { ...host.shardFor(tenant), epoch: directory.record.epoch };
    },
    addShard: async (spec) => {
      const parsed = shardSpecSchema.safeParse(spec);
      if (!parsed.success)
        throw new InvalidArgumentError(`invalid shard: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      const { id, weight } = parsed.data;
      await directory.ready();
      const taken = (record: DirectoryRecord) => {
        if (record.removed.includes(id)) throw new InvalidArgumentError(`shard id '${id}' belonged to a removed shard; give the new shard a new id`);
        if (host.shards.has(id) || record.shards.some((s) => s.id === id))
          throw new InvalidArgumentError(
            `duplicate shard id '${id}': it is already ${host.shards.has(id) ? "in this router's configuration" : 'in the directory'}`,
          );
      };
      taken(directory.record);
      const backend = backendFromSpec(parsed.data.backend);
      let record;
      try {
        record = await directory.change((next) => {
          taken(next);
          next.shards.push({ id, weight: weight ?? 1, state: 'active' });
          return [];
        });
      } catch (err) {
        if (backend !== parsed.data.backend) await backend.close().catch(() => {});
        throw err;
      }
      host.addShard(id, backend);
      return viewOf(record);
    },
    pin: async (unit, shard) => {
      const { tenant, group } = parseUnit(unit);
      await directory.ready();
      const record = await directory.change((next) => {
        const target = known(next, shard);
        if (target.state === 'draining') throw new InvalidArgumentError(`shard '${shard}' is draining (being removed); pin to another shard`);
        if (!host.shards.has(shard)) throw new InvalidArgumentError(`shard '${shard}' is not in this router's configuration`);
        if (group !== undefined && !next.groups[tenant]?.[group])
          throw new InvalidArgumentError(`tenant '${tenant}' has no queue group '${group}' in the directory`);
        const key = unitKey({ tenant: tenant, group: group ?? null });
        if (next.pins[key] === shard) return null;
        next.pins[key] = shard;
        return [];
      });
      return viewOf(record);
    },
    setWeight: async (shard, weight) => {
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
        throw new InvalidArgumentError(`a weight must be a finite number > 0, got ${String(weight)}`);
      return viewOf(
        await directory.change((next) => {
          const s = known(next, shard);
          if (s.weight === weight) return null;
          s.weight = weight;
          return [];
        }),
      );
    },
    setShardState: async (shard, state) => {
      if (state !== 'active' && state !== 'draining') throw new InvalidArgumentError(`a shard state is 'active' or 'draining', got ${String(state)}`);
      return viewOf(
        await directory.change((next) => {
          const s = known(next, shard);
          if (s.state === state) return null;
          s.state = state;
          return [];
        }),
      );
    },
    moveUnit: (unit, toShard, options = {}) => {
      const progress = newProgress();
      return handle(progress, async () => {
        await directory.ready();
        await directory.refresh();
        const record = directory.record;
        const key = checkUnit(record, unit);
        const to = target(record, toShard);
        checkFreezeMs(options.freezeMs);
        checkPace(options);
        const from = placementOf(record).shardOfKey(key);
        if (from === to) throw new InvalidArgumentError(`unit '${key}' is already on shard '${to}'; nothing to move`);
        const src = host.shards.get(from)?.backend;
        if (src && record.pins[key] === undefined && !(await src.hasData(key))) {
          throw new InvalidArgumentError(
            `unknown unit '${key}': it holds no data on its shard '${from}' and is not pinned; to place a new tenant, pin it (admin.pin)`,
          );
        }
        progress.unitsTotal = 1;
        return moveUnit(directory, key, to, options, progress, pinTo);
      });
    },
    moveSlots: (slots, toShard, options = {}) => {
      const progress = newProgress();
      return handle(progress, async () => {
        const checked = checkSlots(slots);
        await directory.ready();
        await directory.refresh();
        const to = target(directory.record, toShard);
        checkFreezeMs(options.freezeMs);
        checkPace(options);
        return moveSlots(directory, checked, to, options, progress, settleMs);
      });
    },
    rebalance: (options = {}) => {
      const progress = newProgress();
      return handle(progress, async () => {
        await directory.ready();
        return rebalance(options, progress);
      });
    },
    drainShard: (shard, options = {}) => {
      const progress = newProgress();
      return handle(progress, async () => {
        await directory.ready();
        await directory.refresh();
        const id = known(directory.record, shard).id;
        checkFreezeMs(options.freezeMs);
        checkPace(options);
        await directory.change((next) => {
          const s = known(next, id);
          if (s.state === 'draining') return null;
          s.state = 'draining';
          return [];
        });
        const units: UnitMoveResult[] = [];
        const pinned = Object.entries(directory.record.pins)
          .filter(([, s]) => s === id)
          .map(([u]) => u);
        progress.unitsTotal += pinned.length;
        for (const unit of pinned) units.push(await moveUnit(directory, unit, roomiest(directory.record, id), options, progress, pinTo));
        const result = await rebalance({ ...options, thresholdSlots: 0 }, progress);
        return { shard: id, units, rebalance: result };
      });
    },
    resumeMoves: async () => {
      await directory.ready();
      return recoverMoves(directory, 0);
    },
    moves: async () => {
      await directory.ready();
      await directory.refresh();
      const moves = structuredClone(directory.record.moves);
      return Promise.all(moves.map(async (m) => ({ ...m, progress: await readProgress(directory.store.storage, m.id).catch(() => null) })));
    },
    removeShard: async (shard) => {
      const record = await directory.change((next) => {
        known(next, shard);
        const view = viewOf(next).shards.find((s) => s.id === shard)!;
        if (view.slots > 0 || view.pins > 0) throw new ShardNotEmptyError(shard, view.slots, view.pins);
        if (host.shards.get(shard)?.backend === directory.store.backend)
          throw new InvalidArgumentError(`shard '${shard}' holds the placement directory; it cannot be removed`);
        next.shards = next.shards.filter((s) => s.id !== shard);
        next.removed.push(shard);
        return [];
      });
      return viewOf(record);
    },
  };
}
