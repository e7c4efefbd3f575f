// pg-boss, configured for throughput as its documentation describes: several work() workers
// (its unit of concurrency), each fetching a batch, polling at the minimum interval (0.5 s).
import { createRequire } from 'node:module';
import PgBoss from 'pg-boss';
import { dropSchema, freshSchema, PG_URL } from '../../test/helpers/servers.js';
import { CONCURRENCY, type Subject } from './subject.js';

const version = (createRequire(import.meta.url)('pg-boss/package.json') as { version: string }).version;
const BATCH = 16;

export async function pgBoss(): Promise<Subject> {
  const schema = freshSchema();
  const boss = new PgBoss({ connectionString: PG_URL, schema, max: CONCURRENCY + 2 });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('bench');
  return {
    name: `pg-boss ${version}`,
    server: 'postgres',
    config: `send per job (pool 34); ${CONCURRENCY} work() workers, batchSize ${BATCH}, pollingIntervalSeconds 0.5 (its minimum)`,
    enqueue: async () => {
      await boss.send('bench', {});
    },
    async start(onJob) {
      const ids = await Promise.all(
        Array.from({ length: CONCURRENCY }, () =>
          boss.work('bench', { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
            for (let i = 0; i < jobs.length; i++) onJob();
          }),
        ),
      );
      return async () => {
        await Promise.all(ids.map((id) => boss.offWork({ id })));
      };
    },
    async close() {
      await boss.stop({ graceful: false, wait: true });
      await dropSchema(schema);
    },
  };
}
