import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dashboard, type DashboardHandler, type DashboardOptions } from '../../src/dashboard/dashboard.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import type { Router } from '../../src/router/router.js';
import { freshTenant, mixedRouter } from './mixed-router.js';

/** Arguments that would run script if any page put them into markup unescaped. */
export const HOSTILE = ['<script>alert("xss-1")</script>', '"><img src=x onerror=alert("xss-2")>', "'><svg onload=alert('xss-3')>"];

export interface DashboardFixture {
  router: Router;
  /** One tenant per shard kind; `pg` has a queue group 'heavy' (queue 'big') on the Redis shard. */
  tenants: { mem: string; pg: string; redis: string };
  /** Per tenant: a succeeded, a failed (hostile arguments and message), a waiting and a scheduled job. */
  jobs: Record<string, { succeeded: string; failed: string; waiting: string; scheduled: string; heavy?: string }>;
  cleanup(): Promise<void>;
}

/** A router over memory, Postgres and Redis shards holding jobs in every state, run by a real JobServer. */
export async function dashboardFixture(): Promise<DashboardFixture> {
  const tenants = { mem: freshTenant('mem'), pg: freshTenant('pg'), redis: freshTenant('red') };
  const { router, cleanup } = mixedRouter({
    [tenants.mem]: { shard: 'mem' },
    [tenants.pg]: { shard: 'pg', queueGroups: { heavy: { queues: ['big'], shard: 'redis' } } },
    [tenants.redis]: { shard: 'redis' },
  });
  await router.open();
  const server = new JobServer(router, {
    queues: ['work'],
    workerCount: 4,
    retry: { attempts: 1 },
    handlers: {
      ok: () => {},
      boom: (args) => {
        throw new Error(`failed on ${String(args[0])}`);
      },
    },
  });
  await server.start();
  const jobs: DashboardFixture['jobs'] = {};
  for (const tenant of Object.values(tenants)) {
    const client = new JobClient(router.tenant(tenant));
    const succeeded = await client.enqueue('ok', ['fine'], { queue: 'work' });
    const failed = await client.enqueue('boom', HOSTILE, { queue: 'work' });
    for (const deadline = Date.now() + 20_000; ;) {
      const counts = await router.tenant(tenant).monitoring.stateCounts();
      if (counts['Succeeded'] === 1 && counts['Failed'] === 1) break;
      if (Date.now() > deadline) throw new Error(`tenant ${tenant}: jobs not done in 20 s: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    jobs[tenant] = {
      succeeded,
      failed,
      waiting: await client.enqueue('ok', [HOSTILE[1]!], { queue: 'idle' }),
      scheduled: await client.schedule('ok', ['later'], { delayMs: 3_600_000 }, { queue: 'work' }),
    };
  }
  jobs[tenants.pg]!.heavy = await new JobClient(router.tenant(tenants.pg)).enqueue('ok', ['big one'], { queue: 'big' });
  await server.stop();
  return { router, tenants, jobs, cleanup };
}

/** Serves a dashboard on a free loopback port. */
export async function serveDashboard(
  router: Router,
  options: DashboardOptions = {},
): Promise<{ url: string; handler: DashboardHandler; server: Server; close(): Promise<void> }> {
  const handler = dashboard(router, options);
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, handler, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** An authorize hook for tests: requests carrying `x-test-admin: yes` may act. */
export const adminHeader = (req: IncomingMessage) => req.headers['x-test-admin'] === 'yes';
