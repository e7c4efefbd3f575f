// Without an SDK, tracing is the API's no-op: a job carries no trace parameter and runs as before.
import test from 'ava';
import { trace } from '@opentelemetry/api';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';

test('no SDK: no trace parameter is written, and jobs run', async (t) => {
  const router = await createRouter({ shards: [{ id: 'mem', backend: new MemoryBackend() }], telemetry: { storageSpans: true } });
  const storage = router.tenant('acme');
  const client = new JobClient(storage);
  // An active span from the no-op tracer is not a trace context to carry.
  const id = await trace.getTracer('app').startActiveSpan('request', async (span) => {
    const jobId = await client.enqueue('work', [1], { queue: 'q' });
    span.end();
    return jobId;
  });
  const scheduled = await client.schedule('work', [2], { delayMs: 60_000 }, { queue: 'q' });
  t.deepEqual((await storage.jobs.get(id)).parameters, {});
  t.deepEqual((await storage.jobs.get(scheduled)).parameters, {});
  let ran = 0;
  const server = new JobServer(router, { queues: ['q'], workerCount: 1, handlers: { work: () => void ran++ } });
  await server.start();
  for (const deadline = Date.now() + 5_000; ran === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
  await server.stop();
  t.is(ran, 1);
  t.is((await storage.jobs.get(id)).state, 'Succeeded');
  await router.close();
});
