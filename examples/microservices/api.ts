// The api service: enqueues e-mails, reports and webhooks for many tenants.
// Alone: tsx examples/microservices/api.ts --postgres URL --redis URL [--namespace NAME] [--jobs N]
import { pathToFileURL } from 'node:url';
import { SpanKind, trace } from '@opentelemetry/api';
import { JobClient, type Router } from '../../src/index.js';
import { JOB_TYPES, TENANTS } from './shards.js';

/** Enqueues `jobs` jobs spread over the tenants and job types; returns how many per tenant. */
export async function runApi(router: Router, jobs: number, signal?: AbortSignal): Promise<Map<string, number>> {
  const enqueued = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (!signal?.aborted) {
        const n = next++;
        if (n >= jobs) return;
        const tenant = TENANTS[n % TENANTS.length]!;
        const { type, queue } = JOB_TYPES[Math.floor(n / TENANTS.length) % JOB_TYPES.length]!;
        // As a request handler would: the job's trace starts in the request that enqueued it.
        await trace.getTracer('api').startActiveSpan(`POST /${queue}`, { kind: SpanKind.SERVER, attributes: { tenant } }, async (span) => {
          await new JobClient(router.tenant(tenant)).enqueue(type, [{ tenant, n }], { queue });
          span.end();
        });
        enqueued.set(tenant, (enqueued.get(tenant) ?? 0) + 1);
      }
    }),
  );
  return enqueued;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { fail, parseOrFail } = await import('./service-main.js');
  const { openRouter } = await import('./shards.js');
  const { startTelemetry } = await import('../telemetry.js');
  const args = parseOrFail(process.argv.slice(2));
  try {
    const stopTelemetry = await startTelemetry('jobshard-api');
    const router = await openRouter(args);
    const enqueued = await runApi(router, Number(args.rest.get('jobs') ?? 1_000));
    console.log(JSON.stringify({ enqueued: Object.fromEntries(enqueued) }));
    await router.close();
    await stopTelemetry();
  } catch (err) {
    fail('api', err);
  }
}
