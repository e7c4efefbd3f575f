// The reports service: runs report jobs for every tenant (for megacorp, on its own 'reporting' shard).
// Alone: tsx examples/microservices/reports.ts --postgres URL --redis URL [--namespace NAME]
import { pathToFileURL } from 'node:url';
import type { Router } from '../../src/index.js';
import { startWorkers, type WorkerStats } from './worker-service.js';

export const startReports = (router: Router, stats: WorkerStats) => startWorkers(router, ['reports'], ['report.build'], stats);

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const { runService } = await import('./service-main.js');
  await runService('reports', startReports);
}
