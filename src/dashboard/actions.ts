import type { Router } from '../router/router.js';
import { JobClient } from '../processing/job-client.js';
import { STATE } from '../processing/states.js';
import { checkName } from '../storage/validate.js';
import { DashboardHttpError } from './http.js';

/** How many failed jobs one bulk action may touch; the page says when a queue holds more. */
export const BULK_LIMIT = 10_000;
const SCAN_LIMIT = 100_000;
const PAGE = 1_000;

/**
 * What the dashboard's buttons do: the same JobClient and admin calls a program makes, so the
 * contract's rules (fenced queue entries, history, statistics) hold for them too.
 */
export class DashboardActions {
  constructor(readonly router: Router) {}

  #client(tenant: string): JobClient {
    return new JobClient(this.router.tenant(tenant));
  }

  requeue(tenant: string, id: string): Promise<void> {
    return this.#client(tenant).requeue(id);
  }

  delete(tenant: string, id: string): Promise<void> {
    return this.#client(tenant).delete(id);
  }

  trigger(tenant: string, recurringId: string): Promise<string> {
    return this.#client(tenant).triggerRecurring(recurringId);
  }

  async pause(tenant: string, queue: string | null, on: boolean): Promise<void> {
    const target = queue === null ? { tenant } : { tenant, queue: queueName(queue) };
    await (on ? this.router.admin.pause(target) : this.router.admin.resume(target));
  }

  /** The failed jobs of one queue (up to BULK_LIMIT), newest first; `more` when there were others past the limit. */
  async failedOf(tenant: string, queue: string): Promise<{ ids: string[]; more: boolean }> {
    queueName(queue);
    const monitoring = this.router.tenant(tenant).monitoring;
    const ids: string[] = [];
    for (let offset = 0; offset < SCAN_LIMIT; offset += PAGE) {
      const page = await monitoring.jobsInState(STATE.failed, { offset, limit: PAGE });
      for (const j of page) {
        if (j.queue !== queue) continue;
        if (ids.length === BULK_LIMIT) return { ids, more: true };
        ids.push(j.id);
      }
      if (page.length < PAGE) break;
    }
    return { ids, more: false };
  }

  /** Requeues or deletes each job, a few at a time; a job that changed meanwhile is skipped, not fatal. */
  async bulk(tenant: string, ids: readonly string[], action: 'requeue' | 'delete'): Promise<{ done: number; skipped: number }> {
    const client = this.#client(tenant);
    let done = 0;
    let skipped = 0;
    for (let i = 0; i < ids.length; i += 16) {
      const results = await Promise.allSettled(ids.slice(i, i + 16).map((id) => (action === 'requeue' ? client.requeue(id) : client.delete(id))));
      for (const r of results) {
        if (r.status === 'fulfilled') done++;
        else skipped++;
      }
    }
    return { done, skipped };
  }
}

function queueName(queue: string): string {
  try {
    return checkName('queue', queue);
  } catch (err) {
    throw new DashboardHttpError(400, (err as Error).message);
  }
}
