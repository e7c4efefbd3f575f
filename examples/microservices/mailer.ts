// The mailer service: runs e-mail and webhook jobs for every tenant.
// Alone: tsx examples/microservices/mailer.ts --postgres URL --redis URL [--namespace NAME]
import { pathToFileURL } from 'node:url';
import type { Router } from '../../src/index.js';
import { startWorkers, type WorkerStats } from './worker-service.js';

export const startMailer = (router: Router, stats: WorkerStats) => startWorkers(router, ['emails', 'webhooks'], ['email.send', 'webhook.post'], stats);

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { runService } = await import('./service-main.js');
  await runService('mailer', startMailer);
}
