// The microservices demo. npm run demo -- [--postgres URL[,URL]] [--redis URL[,URL]] [--pin TENANT=SHARD[,…]] [--jobs N]
// No shards given: the embedded default, every service in this process on in-memory shards.
// Shards given: api, mailer and reports run as separate processes against them.
// Shows a per-shard table while it runs and a summary at the end; Ctrl-C stops it gracefully.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Router } from '../../src/index.js';
import { runApi } from './api.js';
import { startMailer } from './mailer.js';
import { startReports } from './reports.js';
import { fail, parseOrFail } from './service-main.js';
import { openRouter, TENANTS } from './shards.js';
import type { WorkerStats } from './worker-service.js';
import { startTelemetry } from '../telemetry.js';

const args = parseOrFail(process.argv.slice(2));
const jobs = Number(args.rest.get('jobs') ?? 2_000);
const embedded = args.postgres.length + args.redis.length === 0;
if (!embedded && !args.rest.has('keep-namespace')) args.namespace = `demo_${randomBytes(4).toString('hex')}`;
const stopping = new AbortController();
process.once('SIGINT', () => stopping.abort());

let router: Router;
const stopTelemetry = await startTelemetry('jobshard-demo');
try {
  router = await openRouter(args);
} catch (err) {
  fail('demo', err);
}

// --- start the services ---------------------------------------------------------------------
const stats: WorkerStats = { processed: new Map(), errors: 0 };
const children: ChildProcess[] = [];
let stopServices: () => Promise<void>;
let enqueued: Promise<Map<string, number>>;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const pins = Object.entries(args.pins)
  .map(([tenant, shard]) => `${tenant}=${shard}`)
  .join(',');
const flags = [
  ...(args.postgres.length ? ['--postgres', args.postgres.join(',')] : []),
  ...(args.redis.length ? ['--redis', args.redis.join(',')] : []),
  ...(pins ? ['--pin', pins] : []),
  '--namespace',
  args.namespace,
];
function service(file: string, extra: string[] = []): { child: ChildProcess; lines: string[]; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', here(file), ...flags, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (l.endsWith(' ready')) resolve();
      }
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}`))));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, ready, exited };
}

if (embedded) {
  const stopMailer = await startMailer(router, stats);
  const stopReports = await startReports(router, stats);
  stopServices = async () => {
    await Promise.all([stopMailer(), stopReports()]);
  };
  enqueued = runApi(router, jobs, stopping.signal);
} else {
  const mailer = service('./mailer.ts');
  const reports = service('./reports.ts');
  try {
    await Promise.all([mailer.ready, reports.ready]);
  } catch (err) {
    for (const c of children) c.kill('SIGKILL');
    fail('demo', err);
  }
  const api = service('./api.ts', ['--jobs', String(jobs)]);
  stopping.signal.addEventListener('abort', () => api.child.kill('SIGTERM'));
  enqueued = api.exited.then(() => {
    const line = api.lines.find((l) => l.startsWith('{"enqueued"'));
    return new Map(Object.entries(line ? (JSON.parse(line) as { enqueued: Record<string, number> }).enqueued : {}));
  });
  stopServices = async () => {
    for (const s of [mailer, reports]) s.child.kill('SIGTERM');
    await Promise.all([mailer.exited, reports.exited]);
    for (const s of [mailer, reports]) {
      const line = s.lines.find((l) => l.startsWith('{"service"'));
      if (line) stats.errors += (JSON.parse(line) as { errors: number }).errors;
    }
  };
}

// --- progress, until every enqueued job succeeded (or Ctrl-C) --------------------------------
const tty = process.stdout.isTTY === true;
let drawn = 0;
let last = { at: Date.now(), done: new Map<string, number>() };
async function succeededPerTenant(): Promise<Map<string, number>> {
  const counts = await router.admin.tenantCounts(TENANTS);
  return new Map(TENANTS.map((t) => [t, counts[t]?.['Succeeded'] ?? 0]));
}
async function progress(final = false): Promise<Map<string, number>> {
  const [queues, done] = await Promise.all([router.admin.queues(), succeededPerTenant()]);
  const now = Date.now();
  const rows = router.admin.health().map((h) => {
    const depth = queues.filter((q) => q.shard === h.id).reduce((a, q) => a + q.waiting + q.inFlight, 0);
    const homeTenants = TENANTS.filter((t) => router.shardFor(t).shard === h.id);
    const delta = homeTenants.reduce((a, t) => a + (done.get(t)! - (last.done.get(t) ?? 0)), 0);
    const rate = (delta / Math.max(0.001, (now - last.at) / 1000)).toFixed(0);
    return `${h.id.padEnd(10)} ${String(depth).padStart(11)} ${rate.padStart(14)} ${h.circuit.padStart(10)}`;
  });
  last = { at: now, done };
  const lines = ['shard      queue depth  jobs/s (home)    circuit', ...rows, `errors: ${stats.errors}`];
  if (tty && !final) {
    if (drawn) process.stdout.write(`\x1b[${drawn}A`);
    process.stdout.write(lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n');
    drawn = lines.length;
  } else if (!final) {
    console.log(lines.slice(1).join(' | '));
  }
  return done;
}

// Progress is shown while the api enqueues and until every job it enqueued has succeeded.
let finalEnqueued: Map<string, number> | null = null;
void enqueued.then((m) => (finalEnqueued = m));
const deadline = Date.now() + Number(args.rest.get('timeout-ms') ?? 60_000);
let done = new Map<string, number>();
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
while (!stopping.signal.aborted && Date.now() < deadline) {
  done = await progress();
  if (finalEnqueued !== null && sum(done) >= sum(finalEnqueued)) break;
  await new Promise((r) => setTimeout(r, tty ? 250 : 1_000));
}
finalEnqueued = await enqueued; // after Ctrl-C the api stops early and reports what it did enqueue
const target = sum(finalEnqueued);
done = await progress(true);
await stopServices();

// --- summary -----------------------------------------------------------------------------------
console.log(`\n${embedded ? 'embedded (in-memory shards, one process)' : 'separate processes (api, mailer, reports)'}; namespace ${args.namespace}`);
console.log('tenant     home shard  groups                  enqueued  processed');
for (const t of TENANTS) {
  const p = router.shardFor(t);
  const groups = p.groups.map((g) => `${g.group}@${g.shard}`).join(' ') || '-';
  console.log(
    `${t.padEnd(10)} ${p.shard.padEnd(11)} ${groups.padEnd(23)} ${String(finalEnqueued!.get(t) ?? 0).padStart(8)}  ${String(done.get(t) ?? 0).padStart(9)}`,
  );
}
const perShard = new Map<string, string[]>();
for (const t of TENANTS)
  for (const id of [router.shardFor(t).shard, ...router.shardFor(t).groups.map((g) => g.shard)])
    perShard.set(id, [...new Set([...(perShard.get(id) ?? []), t])]);
console.log(`tenants per shard: ${[...perShard].map(([s, ts]) => `${s}: ${ts.length}`).join(', ')}`);
const lost = TENANTS.reduce((a, t) => a + Math.max(0, (finalEnqueued!.get(t) ?? 0) - (done.get(t) ?? 0)), 0);
console.log(`enqueued ${target}, processed ${sum(done)}, not processed: ${lost}${stopping.signal.aborted ? ' (stopped early by Ctrl-C)' : ''}`);
await router.close();
await stopTelemetry();
process.exit(lost === 0 || stopping.signal.aborted ? 0 : 1);
