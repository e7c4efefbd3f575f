// graphile-worker, configured as its performance page recommends: a local queue (jobs
// fetched in batches), batched completions, a pool larger than the concurrency. With
// batching false, its defaults (one fetch and one completion per job) for comparison.
import { createRequire } from 'node:module';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { dropSchema, freshSchema, PG_URL } from '../../test/helpers/servers.js';
import { CONCURRENCY, type Subject } from './subject.js';

const version = (createRequire(import.meta.url)('graphile-worker/package.json') as { version: string }).version;
// Its default logger prints a line per job; neither side of the comparison logs.
const quiet = new Logger(() => () => {});

export async function graphileWorker(batching = true): Promise<Subject> {
  const schema = freshSchema();
  const utils = await makeWorkerUtils({ connectionString: PG_URL, schema, maxPoolSize: CONCURRENCY + 2, logger: quiet });
  await utils.migrate();
  return {
    name: `graphile-worker ${version}${batching ? '' : ' (no batching)'}`,
    server: 'postgres',
    config: batching
      ? 'addJob per job (pool 34); run() with concurrency 32, maxPoolSize 34, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0 (its performance page)'
      : 'addJob per job (pool 34); run() with concurrency 32, maxPoolSize 34, no local queue, no batched completion (its defaults)',
    enqueue: async () => {
      await utils.addJob('noop', {});
    },
    async start(onJob) {
      const runner = await run({
        connectionString: PG_URL,
        schema,
        concurrency: CONCURRENCY,
        maxPoolSize: CONCURRENCY + 2,
        noHandleSignals: true,
        logger: quiet,
        taskList: { noop: async () => onJob() },
        ...(batching ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } } : {}),
      });
      return () => runner.stop();
    },
    async close() {
      await utils.release();
      await dropSchema(schema);
    },
  };
}
