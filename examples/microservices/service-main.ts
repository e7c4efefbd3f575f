// What each service does when run as its own process: parse the shard flags, open the router,
// start, report readiness, and stop gracefully on SIGTERM / SIGINT. Errors end with the library's
// message, not a stack trace.
import type { Router } from '../../src/index.js';
import { openRouter, parseShardArgs, type ShardArgs } from './shards.js';
import type { WorkerStats } from './worker-service.js';
import { startTelemetry } from '../telemetry.js';

export function fail(service: string, err: unknown): never {
  console.error(`${service}: ${(err as Error).message ?? String(err)}`);
  process.exit(1);
}

export function parseOrFail(argv: string[]): ShardArgs & { rest: Map<string, string> } {
  try {
    return parseShardArgs(argv);
  } catch (err) {
    fail('config', err);
  }
}

export async function runService(name: string, start: (router: Router, stats: WorkerStats) => Promise<() => Promise<void>>): Promise<void> {
  const args = parseOrFail(process.argv.slice(2));
  try {
    // Before the router exists, so its meters come from the SDK (OTLP from OTEL_EXPORTER_OTLP_ENDPOINT).
    const stopTelemetry = await startTelemetry(`jobshard-${name}`);
    const router = await openRouter(args);
    const stats: WorkerStats = { processed: new Map(), errors: 0 };
    const stop = await start(router, stats);
    console.log(`${name} ready`);
    const shutdown = async () => {
      await stop();
      await router.close();
      await stopTelemetry();
      console.log(JSON.stringify({ service: name, processed: Object.fromEntries(stats.processed), errors: stats.errors }));
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown());
    process.once('SIGINT', () => void shutdown());
  } catch (err) {
    fail(name, err);
  }
}
