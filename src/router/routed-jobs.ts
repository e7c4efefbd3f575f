import type { CreateJobInput, JobRecord, JobStore, StateRecord } from '../storage/job.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { Storage } from '../storage/storage.js';
import type { Unit } from '../tenancy/unit.js';
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

  get(id: string): Promise<JobRecord> {
    return this.#byId(id, async (s, backendId, unit) => this.ctx.record(unit, await s.jobs.get(backendId)));
  }

  history(id: string): Promise<StateRecord[]> {
    return this.#byId(id, (s, backendId) => s.jobs.history(backendId));
  }

  getParameter(id: string, name: string): Promise<string | null> {
    return this.#byId(id, (s, backendId) => s.jobs.getParameter(backendId, name));
  }

  setParameter(id: string, name: string, value: string): Promise<void> {
    return this.#byId(id, (s, backendId) => s.jobs.setParameter(backendId, name, value));
  }

  /** Once the directory has loaded: the call on the unit the id names, by the id its shard knows. */
  async #byId<T>(id: string, call: (storage: Storage, backendId: string, unit: Unit) => Promise<T>): Promise<T> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => call(s, bid, unit));
  }
}
