// Connections cut at exact points, on real Postgres and Redis: a fault proxy passes a request on
// (a fetch, an outcome commit, a lock renewal) and cuts the connection before the answer comes
// back, so the server has done the work and the client cannot know it; or drops the request. The promises hold: every
// job runs, none is left behind, every error the server survives is typed, and a lock is never
// held by two holders whose leases are both live. Short versions of `npm run soak`.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { URL } from 'node:url';
import { PostgresBackend, statementName } from '../../src/backends/postgres/postgres-backend.js';
import { SQL } from '../../src/backends/postgres/postgres-statements.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { scriptSource } from '../../src/backends/redis/redis-scripts.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { isJobshardError } from '../../src/storage/errors.js';
import type { Backend } from '../../src/storage/storage.js';
import { FaultProxy, type Fault } from '../helpers/fault-proxy.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

type Kind = 'postgres' | 'redis';
type Point = 'fetch' | 'commit' | 'lock renewal';

const sha = (name: 'fetch' | 'commit' | 'lock') => createHash('sha1').update(scriptSource(name, false)).digest('hex');

/** Picks the requests of one kind on the wire: Postgres by prepared statement name, Redis by script SHA (and the lock's action). */
function requestsOf(kind: Kind, point: Point): (request: Buffer) => boolean {
  if (kind === 'postgres') {
    const names = (
      point === 'fetch' ? [SQL.fetch] : point === 'commit' ? [SQL.commit, SQL.commitRemoving, SQL.commitSetStates, SQL.commitDeleting] : [SQL.extendLock]
    ).map(statementName);
    return (request) => names.some((n) => request.includes(n));
  }
  if (point === 'lock renewal') {
    const lock = sha('lock');
    return (request) => request.includes(lock) && request.includes('\r\nextend\r\n');
  }
  // A script's first run on a connection goes as EVAL with its source (ioredis), then as EVALSHA.
  const script = sha(point);
  const source = readFileSync(new URL(`../../src/backends/redis/lua/${point}.lua`, import.meta.url), 'utf8').slice(0, 80);
  return (request) => request.includes(script) || request.includes(source);
}

/** A backend on the real server through a fault proxy, and more backends on the same schema or prefix (each its own connections). */
async function throughProxy(kind: Kind): Promise<{ backend: Backend; another: () => Backend; proxy: FaultProxy; cleanup: () => Promise<void> }> {
  const target = new URL(kind === 'postgres' ? PG_URL : REDIS_URL);
  const proxy = new FaultProxy(Number(target.port || (kind === 'postgres' ? 5432 : 6379)));
  await proxy.start();
  const via = new URL(target.href);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  const schema = freshSchema();
  const prefix = freshPrefix();
  const backends: Backend[] = [];
  const another = () => {
    const b =
      kind === 'postgres'
        ? new PostgresBackend({ connectionString: via.href, schema, poolSize: 4 })
        : new RedisBackend({ url: via.href, prefix, pollIntervalMs: 500 });
    backends.push(b);
    return b;
  };
  return {
    backend: another(),
    another,
    proxy,
    cleanup: async () => {
      await Promise.all(backends.map((b) => b.close()));
      await proxy.close();
      if (kind === 'postgres') await dropSchema(schema);
      else await deleteRedisPrefix(prefix);
    },
  };
}

/** Every `every`-th matching request, `times` times in all, meets the next of `faults` in turn. */
function everyNth(match: (request: Buffer) => boolean, every: number, times: number, faults: Fault[] = ['after', 'before']): (request: Buffer) => Fault | null {
  let seen = 0;
  let cuts = 0;
  return (request) => {
    if (cuts >= times || !match(request) || ++seen % every !== 0) return null;
    return faults[cuts++ % faults.length]!;
  };
}

const JOBS = 1_500;

for (const kind of ['postgres', 'redis'] as const) {
  for (const point of ['fetch', 'commit'] as const) {
    test(`${kind}: connections cut mid-${point}: every job runs, none is left, every error is typed`, async (t) => {
      const { backend, proxy, cleanup } = await throughProxy(kind);
      t.teardown(cleanup);
      const storage = backend.storage('faults');
      const client = new JobClient(storage);
      const ids = new Set<string>();
      for (let i = 0; i < JOBS; i += 100) {
        const batch = await Promise.all(Array.from({ length: 100 }, (_, k) => client.enqueue('work', [i + k], { queue: 'q' })));
        for (const id of batch) ids.add(id);
      }
      const runs = new Map<string, number>();
      const untyped: string[] = [];
      const survived = new Map<string, number>();
      const server = new JobServer(storage, {
        queues: ['q'],
        workerCount: 8,
        invisibilityTimeoutMs: 1_500,
        onError: (err) => {
          if (isJobshardError(err)) survived.set(err.name, (survived.get(err.name) ?? 0) + 1);
          else untyped.push(String(err).slice(0, 200));
        },
        handlers: {
          work: async (_args, ctx) => {
            await new Promise((r) => setTimeout(r, 1));
            runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
          },
        },
      });
      proxy.cutOn(everyNth(requestsOf(kind, point), 7, 12));
      await server.start();
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        const counts = await storage.monitoring.stateCounts().catch(() => ({}) as Record<string, number>);
        if ((counts['Succeeded'] ?? 0) === JOBS) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await server.stop();
      proxy.cutOn(null);
      t.log(
        `${proxy.cuts} connections cut at a ${point} (after it reached the server, or before); ${[...runs.values()].reduce((a, n) => a + n - 1, 0)} runs beyond the first; typed errors survived: ${[...survived].map(([name, n]) => `${n} ${name}`).join(', ') || 'none'}`,
      );
      t.true(proxy.cuts >= 5, `the proxy cut ${proxy.cuts} connections mid-${point}`);
      t.deepEqual(
        [...ids].filter((id) => !runs.has(id)),
        [],
        'no job lost',
      );
      t.deepEqual(await storage.monitoring.stateCounts(), { Succeeded: JOBS }, 'every job Succeeded, none left Enqueued or Processing');
      t.deepEqual(untyped, []);
    });
  }

  // A dropped outcome came back as a second run once the lease lapsed (a cut Postgres link lost a
  // whole group commit: 54 runs beyond the first for 12 cuts above); now the commit is retried.
  // Retried after a commit that did land, it must not write the outcome twice.
  for (const fault of ['before', 'after'] as const) {
    test(`${kind}: an outcome commit cut ${fault} it reached the server is written once, and the job runs once`, async (t) => {
      const { backend, proxy, cleanup } = await throughProxy(kind);
      t.teardown(cleanup);
      const storage = backend.storage('outcome');
      const id = await new JobClient(storage).enqueue('work', [], { queue: 'q' });
      let runs = 0;
      const server = new JobServer(storage, {
        queues: ['q'],
        invisibilityTimeoutMs: 2_000,
        handlers: { work: async () => void runs++ },
      });
      proxy.cutOn(everyNth(requestsOf(kind, 'commit'), 1, 1, [fault]));
      await server.start();
      try {
        for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
          if ((await storage.jobs.get(id).catch(() => null))?.state === 'Succeeded') break;
        // Past the invisibility: a dropped outcome would have been run again by now.
        await new Promise((r) => setTimeout(r, 3_000));
      } finally {
        await server.stop();
      }
      t.is(proxy.cuts, 1);
      t.is(runs, 1);
      t.is((await storage.jobs.get(id)).state, 'Succeeded');
      t.deepEqual(
        (await storage.jobs.history(id)).map((s) => s.name),
        ['Enqueued', 'Processing', 'Succeeded'],
      );
    });
  }

  test(`${kind}: connections cut or stalled mid-lock-renewal: no two holders with live leases, tokens in grant order`, async (t) => {
    const { backend, another, proxy, cleanup } = await throughProxy(kind);
    t.teardown(cleanup);
    // Each holder on its own connections, as in separate processes: a stalled connection holds up only its own holder.
    const holders = [backend, another(), another(), another()].map((b) => b.storage('locks'));
    await Promise.all(holders.map((h) => h.data.hashCount('warm-up').catch(() => null)));
    const held: Array<{ token: number; from: number; to: number }> = [];
    const untyped: string[] = [];
    // A stalled renewal reaches the server after the lease has lapsed (ttl 600 ms): its holder must
    // have stopped by then, without waiting for the answer.
    proxy.stallMs = 1_500;
    proxy.cutOn(everyNth(requestsOf(kind, 'lock renewal'), 2, 15, ['stall', 'after', 'before']));
    const stopAt = Date.now() + 8_000;
    await Promise.all(
      holders.map(async (storage) => {
        while (Date.now() < stopAt) {
          try {
            const lock = await storage.locks.acquire('res', { timeoutMs: 5_000, ttlMs: 600 });
            const from = performance.now();
            // Held past several renewals (every ttl/3); a holder that learns its lease is lost stops at once.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 500 + Math.random() * 700);
              lock.signal.addEventListener('abort', () => {
                clearTimeout(timer);
                resolve();
              });
            });
            held.push({ token: lock.token, from, to: performance.now() });
            await lock.release().catch((err: unknown) => void (isJobshardError(err) || untyped.push(String(err))));
          } catch (err) {
            if (!isJobshardError(err)) untyped.push(String(err).slice(0, 200));
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }),
    );
    proxy.cutOn(null);
    held.sort((a, b) => a.from - b.from);
    // Each with the holder before it, and by how much they overlapped.
    const overlaps = held.flatMap((h, i) => (i > 0 && h.from < held[i - 1]!.to ? [{ before: held[i - 1]!, after: h, ms: held[i - 1]!.to - h.from }] : []));
    const outOfOrder = held.filter((h, i) => i > 0 && h.token <= held[i - 1]!.token);
    t.log(`${held.length} grants, ${proxy.cuts} connections cut at a renewal`);
    t.true(proxy.cuts >= 5, `the proxy cut ${proxy.cuts} connections mid-renewal`);
    t.true(held.length >= 8, `${held.length} grants`);
    t.deepEqual(overlaps, [], 'no holder was granted while another still believed it held the lock');
    t.deepEqual(outOfOrder, [], 'fencing tokens grow with each grant');
    t.deepEqual(untyped, []);
  });
}
