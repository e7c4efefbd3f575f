import type { JobRecord, StateRecord } from '../storage/job.js';
import type { MonitoringApi, Page, QueueInfo, Statistics } from '../storage/monitoring.js';
import { readStatistics } from '../storage/read-statistics.js';
import type { ServerRecord } from '../storage/servers.js';
import { checkInt, checkName, checkPage } from '../storage/validate.js';
import type { DataStore } from '../storage/data.js';
import { PAUSED_HASH, pausesOf } from '../storage/pauses.js';
import type { TenantContext } from './tenant-context.js';

/** Monitoring of one tenant: a split tenant's units are asked in parallel and their answers merged. */
export class RoutedMonitoring implements MonitoringApi {
  constructor(
    readonly ctx: TenantContext,
    readonly data: DataStore,
  ) {}

  async queues(): Promise<QueueInfo[]> {
    const [parts, fields] = await Promise.all([
      Promise.all(this.ctx.units.map((u) => this.ctx.storageOf(u).monitoring.queues())),
      this.ctx.storageOf(this.ctx.home).data.hashGetAll(PAUSED_HASH),
    ]);
    const pauses = pausesOf(fields);
    const out = parts.flat();
    if (pauses.tenant || pauses.queues.length) {
      const paused = new Set(pauses.queues);
      for (const q of out) q.paused = pauses.tenant || paused.has(q.name);
      // A pause may come before its queue's first job: listed, empty and paused.
      for (const name of paused) if (!out.some((q) => q.name === name)) out.push({ name, waiting: 0, inFlight: 0, paused: true });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async queueJobs(queue: string, page?: Page): Promise<JobRecord[]> {
    const unit = this.ctx.unitOfQueue(checkName('queue', queue));
    return (await this.ctx.storageOf(unit).monitoring.queueJobs(queue, page)).map((r) => this.ctx.record(unit, r));
  }

  async stateCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const counts of await Promise.all(this.ctx.units.map((u) => this.ctx.storageOf(u).monitoring.stateCounts()))) {
      for (const [state, n] of Object.entries(counts)) out[state] = (out[state] ?? 0) + n;
    }
    return out;
  }

  /** Each unit returns its first offset+limit; merged by state time (newest first), the page is exact. */
  async jobsInState(state: string, page?: Page): Promise<JobRecord[]> {
    const { offset, limit } = checkPage(page);
    if (!this.ctx.split) {
      return (await this.ctx.storageOf(this.ctx.home).monitoring.jobsInState(state, { offset, limit })).map((r) => this.ctx.record(this.ctx.home, r));
    }
    const want = checkInt('page offset + limit', offset + limit, 1, 100_000);
    const parts = await Promise.all(
      this.ctx.units.map(async (u) => {
        const recs: JobRecord[] = [];
        for (let at = 0; at < want; at += 1000) {
          const got = await this.ctx.storageOf(u).monitoring.jobsInState(state, { offset: at, limit: Math.min(1000, want - at) });
          recs.push(...got.map((r) => this.ctx.record(u, r)));
          if (got.length < Math.min(1000, want - at)) break;
        }
        return recs;
      }),
    );
    return parts
      .flat()
      .sort((a, b) => (b.stateAt?.getTime() ?? 0) - (a.stateAt?.getTime() ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(offset, offset + limit);
  }

  async jobDetails(id: string): Promise<{ job: JobRecord; history: StateRecord[] }> {
    const { unit, backendId } = this.ctx.decode(id);
    // An id handed out before a move resolves through the unit's alias hash, as jobs.get does.
    const { job, history } = await this.ctx.byId(unit, backendId, (s, i) => s.monitoring.jobDetails(i));
    return { job: this.ctx.record(unit, job), history };
  }

  servers(): Promise<ServerRecord[]> {
    return this.ctx.storageOf(this.ctx.home).monitoring.servers();
  }

  async statistics(options: { days?: number; hours?: number } = {}): Promise<Statistics> {
    const days = checkInt('days', options.days ?? 7, 0, 366);
    const hours = checkInt('hours', options.hours ?? 24, 0, 24 * 31);
    return readStatistics(this.data, days, hours, new Date());
  }
}
