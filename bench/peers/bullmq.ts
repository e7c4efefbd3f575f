// BullMQ, configured as its documentation recommends for throughput: worker concurrency,
// jobs removed on completion, workers on connections that retry forever (maxRetriesPerRequest null).
import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../../test/helpers/servers.js';
import { CONCURRENCY, type Subject } from './subject.js';

const version = (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;

export function bullmq(): Subject {
  const url = new URL(REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  // BullMQ adds its own ':' after the prefix; the doubled colon is harmless and keeps the clean-up's pattern.
  const prefix = freshPrefix();
  const queue = new Queue('bench', { connection, prefix });
  return {
    name: `BullMQ ${version}`,
    server: 'redis',
    config: 'Queue.add per job with removeOnComplete; one Worker, concurrency 32',
    enqueue: async () => {
      await queue.add('noop', {}, { removeOnComplete: true, removeOnFail: true });
    },
    async start(onJob) {
      const worker = new Worker('bench', async () => onJob(), { connection, prefix, concurrency: CONCURRENCY });
      await worker.waitUntilReady();
      return () => worker.close();
    },
    async close() {
      await queue.close();
      await deleteRedisPrefix(prefix);
    },
  };
}
