import type { CreateJobInput, JobRecord, JobStore, StateRecord } from '../storage/job.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { TenantContext } from './tenant-context.js';

/**
 * Jobs live with the queue they are created for; every other call routes by the unit in the id.
 * Each call waits for the placement directory first (a no-op once it has loaded).
 */
export class RoutedJobs implements JobStore {
  constructor(readonly ctx: TenantContext) {}

  create(input: CreateJobInput): Promise<string> {
    const waiting = this.ctx.ready();
    return waiting ? waiting.then(() => this.#create(input)) : this.#create(input);
  }

  // Not an async function: with the directory loaded, this is every enqueue's path.
  #create(input: CreateJobInput): Promise<string> {
    if (input === null || typeof input !== 'object') return Promise.reject(new InvalidArgumentError('create needs { type, args, queue }'));
    // The unit's storage checks the queue name: a bad one belongs to no group, so it goes home and is refused there.
    const unit = this.ctx.unitOfQueue(input.queue);
    return this.ctx.on(unit, (s) => s.jobs.create(input)).then((id) => this.ctx.encode(unit, id));
  }

  async get(id: string): Promise<JobRecord> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.record(unit, await this.ctx.byId(unit, backendId, (s, bid) => s.jobs.get(bid)));
  }

  async history(id: string): Promise<StateRecord[]> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.history(bid));
  }

  async getParameter(id: string, name: string): Promise<string | null> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.getParameter(bid, name));
  }

  async setParameter(id: string, name: string, value: string): Promise<void> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.setParameter(bid, name, value));
  }
}
