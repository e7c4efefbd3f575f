// A JobServer in its own process whose one job's lease the parent takes away: the parent SIGSTOPs
// this process past the job's invisibility, fetches the job itself, then SIGCONTs it.
// Usage: tsx lease-loser.ts '<json CrashConfig>' [prefetch] [markProcessingAfterMs]. Prints "ready" once started,
// "started <jobId>" when the handler starts and "aborted <reason>" when its signal fires. With a prefetch, the server
// holds that many jobs beyond the one it runs, and an aborted handler returns only a second later, so its worker is
// still busy when the keep-alive learns the fate of the held jobs' leases. With markProcessingAfterMs, an aborted
// handler returns two seconds later (its run outlasts the mark's time) and a failed job is not retried.
import { JobServer } from '../../src/processing/job-server.js';
import { crashStorage, type CrashConfig } from './crash-worker.js';

const cfg = JSON.parse(process.argv[2]!) as CrashConfig;
const markProcessingAfterMs = Number(process.argv[4] ?? 0);
const afterAbortMs = markProcessingAfterMs > 0 ? 2_000 : process.argv[3] ? 1_000 : 0;
const server = new JobServer(crashStorage(cfg).storage, {
  workerCount: 1,
  prefetch: Number(process.argv[3] || 0),
  markProcessingAfterMs,
  ...(markProcessingAfterMs > 0 ? { retry: { attempts: 1 } } : {}),
  invisibilityTimeoutMs: 600,
  handlers: {
    hold: async (_args, ctx) => {
      process.stdout.write(`started ${ctx.jobId}\n`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          process.stdout.write(`aborted ${(ctx.signal.reason as Error).name}\n`);
          setTimeout(resolve, afterAbortMs);
        });
      });
      ctx.signal.throwIfAborted();
    },
  },
});
await server.start();
process.stdout.write('ready\n');
