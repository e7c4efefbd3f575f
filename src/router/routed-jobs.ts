import type { CreateJobInput, JobRecord, JobStore, StateRecord } from '../storage/job.js';
import { InvalidArgumentError } from '../storage/errors.js';
import { checkName } from '../storage/validate.js';
import type { TenantContext } from './tenant-context.js';

/** Jobs live with the queue they are created for; every other call routes by the unit in the id. */
export class RoutedJobs implements JobStore {
  constructor(readonly ctx: TenantContext) {}

  async create(input: CreateJobInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidArgumentError('create needs { type, args, queue }');
    const unit = this.ctx.unitOfQueue(checkName('queue', input.queue));
    return this.ctx.encode(unit, await this.ctx.storageOf(unit).jobs.create(input));
  }

  async get(id: string): Promise<JobRecord> {
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.record(unit, await this.ctx.byId(unit, backendId, (s, bid) => s.jobs.get(bid)));
  }

  async history(id: string): Promise<StateRecord[]> {
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.history(bid));
  }

  async getParameter(id: string, name: string): Promise<string | null> {
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.getParameter(bid, name));
  }

  async setParameter(id: string, name: string, value: string): Promise<void> {
    const { unit, backendId } = this.ctx.decode(id);
    return this.ctx.byId(unit, backendId, (s, bid) => s.jobs.setParameter(bid, name, value));
  }
}
