import { ALIAS_HASH, EXPORT_BATCH, idNumber, itemRef, SEP, type ItemRef, type JobItem, type UnitImport, type UnitItem } from '../../storage/unit-stream.js';
import type { Query, Transact } from './postgres-query.js';
import type { HistoryEntry } from './postgres-rows.js';
import { sleep } from '../../storage/sleep.js';
import { idFloor } from '../../storage/id-marks.js';

const LIVE = '(expire_at IS NULL OR expire_at > clock_timestamp())';
// Whole milliseconds, as the other backends keep times (and as a JavaScript Date holds them).
const MS = (col: string) => `round(extract(epoch FROM ${col}) * 1000)::float8`;
const TS = (param: string) => `to_timestamp(${param} / 1000.0)`;

/*
 * The statements of a unit's export and import; values only ever travel as parameters.
 *
 * Jobs and queue entries are paged and reached by primary key, the namespace test wrapped (IS
 * TRUE) so it cannot drive an index (as in postgres-statements.ts). Written as ns = $1, the
 * prepared statement's generic plan walked the namespace's whole part of jobs_by_state (or
 * queue_entries_fetch) and sorted it for every page of 500: 23.7 ms a page with 15,000 jobs left
 * against 1.1 ms, so a unit's export took time in the square of its size. Walking the key instead
 * reads the other units' rows between the unit's too, but each once over the whole export.
 */
/** A job as the stream carries it (jobItems): times in whole milliseconds, with its history. */
const JOB_ITEM_COLUMNS = `id, type, args, queue, parameters, state_name, state_reason, state_data, ${MS('state_at')} AS state_at,
  ${MS('created_at')} AS created_at, ${MS('expire_at')} AS expire_at, history`;

export const UNIT_SQL = {
  jobs: `SELECT ${JOB_ITEM_COLUMNS}
    FROM jobs WHERE id > $2 AND (ns = $1) IS TRUE AND ${LIVE} ORDER BY id LIMIT $3`,
  entries: `SELECT seq, queue, job_id, deliveries,
      CASE WHEN token IS NOT NULL AND lease_until > clock_timestamp() THEN ${MS('lease_until')} END AS lease_until
    FROM queue_entries WHERE seq > $2 AND (ns = $1) IS TRUE ORDER BY seq LIMIT $3`,
  hashes: `SELECT key, jsonb_object_agg(field, value) AS fields, ${MS('min(expire_at)')} AS expire_at
    FROM hashes WHERE ns = $1 AND ${LIVE} GROUP BY key`,
  sets: `SELECT key, json_agg(json_build_array(member, score) ORDER BY score, member) AS members, ${MS('min(expire_at)')} AS expire_at
    FROM sets WHERE ns = $1 AND ${LIVE} GROUP BY key`,
  lists: `SELECT key, json_agg(value ORDER BY id DESC) AS items, ${MS('min(expire_at)')} AS expire_at
    FROM lists WHERE ns = $1 AND ${LIVE} GROUP BY key`,
  counters: `SELECT key, value, ${MS('expire_at')} AS expire_at FROM counters WHERE ns = $1 AND ${LIVE}`,
  locks: `SELECT resource, token, CASE WHEN lease_until > clock_timestamp() THEN ${MS('lease_until')} END AS lease_until FROM locks WHERE ns = $1`,
  servers: `SELECT id, queues, worker_count, ${MS('started_at')} AS started_at, ${MS('heartbeat_at')} AS heartbeat_at FROM servers WHERE ns = $1`,

  units: `SELECT ns FROM jobs UNION SELECT ns FROM queue_entries UNION SELECT ns FROM locks UNION SELECT ns FROM hashes
    UNION SELECT ns FROM sets UNION SELECT ns FROM lists UNION SELECT ns FROM counters UNION SELECT ns FROM servers`,
  // 0019: the first statement of each fenced import call (unit-stream.ts ImportFence).
  importFence: 'SELECT jobshard_import_fence($1, $2)',
  drawIds: `SELECT nextval(pg_get_serial_sequence('jobs', 'id'))::text AS id FROM generate_series(1, $1)`,
  // Native ids drawn later must not equal an imported id kept as an alias: the sequence moves past them.
  drawnIds: `SELECT last_value::text AS n FROM jobs_id_seq`,
  reserveIds: `SELECT setval(pg_get_serial_sequence('jobs', 'id'), $1::bigint)
    WHERE $1::bigint > (SELECT last_value FROM jobs_id_seq)`,
  // history: each job's jobs.history array (0015), built by the caller from the unit's states.
  insertJobs: `INSERT INTO jobs (id, ns, type, args, queue, parameters, state_name, state_reason, state_data, state_at, created_at, expire_at, history)
    SELECT u.id, $1, u.type, u.args, u.queue, u.parameters, u.state_name, u.state_reason, u.state_data,
      ${TS('u.state_at')}, ${TS('u.created_at')}, ${TS('u.expire_at')}, u.history
    FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::jsonb[], $10::float8[], $11::float8[], $12::float8[],
      $13::jsonb[])
      AS u(id, type, args, queue, parameters, state_name, state_reason, state_data, state_at, created_at, expire_at, history)`,
  // A leased entry gets a token no consumer knows: its job comes back when the copied lease lapses.
  insertEntries: `INSERT INTO queue_entries (ns, queue, job_id, token, lease_until, deliveries)
    SELECT $1, u.queue, u.job_id, CASE WHEN u.lease_until IS NOT NULL THEN gen_random_uuid()::text END, ${TS('u.lease_until')}, u.deliveries
    FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::int[]) WITH ORDINALITY AS u(queue, job_id, lease_until, deliveries, n) ORDER BY u.n`,
  insertHash: `INSERT INTO hashes (ns, key, field, value, expire_at) SELECT $1, $2, f.key, f.value, ${TS('$4::float8')} FROM jsonb_each_text($3::jsonb) AS f`,
  insertSet: `INSERT INTO sets (ns, key, member, score, expire_at)
    SELECT $1, $2, m->>0, (m->>1)::float8, ${TS('$4::float8')} FROM jsonb_array_elements($3::jsonb) AS m`,
  // Inserted oldest first: lists read newest first, highest id first.
  insertList: `INSERT INTO lists (ns, key, value, expire_at)
    SELECT $1, $2, v.value, ${TS('$4::float8')} FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS v(value, n) ORDER BY v.n DESC`,
  upsertAliases: `INSERT INTO hashes (ns, key, field, value, expire_at) SELECT $1, $2, f.key, f.value, ${TS('$4::float8')} FROM jsonb_each_text($3::jsonb) AS f
    ON CONFLICT (ns, key, field) DO UPDATE SET value = EXCLUDED.value`,
  insertCounter: `INSERT INTO counters (ns, key, value, expire_at) VALUES ($1, $2, $3, ${TS('$4::float8')})`,
  insertLock: `INSERT INTO locks (ns, resource, token, lease_until) VALUES ($1, $2, $3, ${TS('$4::float8')})`,
  insertServer: `INSERT INTO servers (ns, id, queues, worker_count, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, ${TS('$5::float8')}, ${TS('$6::float8')})`,

  entriesBySeq: `SELECT seq, queue, job_id, deliveries,
      CASE WHEN token IS NOT NULL AND lease_until > clock_timestamp() THEN ${MS('lease_until')} END AS lease_until
    FROM queue_entries WHERE seq = ANY($2::bigint[]) AND (ns = $1) IS TRUE`,
  jobsById: `SELECT ${JOB_ITEM_COLUMNS}
    FROM jobs WHERE id = ANY($2::bigint[]) AND (ns = $1) IS TRUE AND ${LIVE}`,
  hashesByKey: `SELECT key, jsonb_object_agg(field, value) AS fields, ${MS('min(expire_at)')} AS expire_at
    FROM hashes WHERE ns = $1 AND key = ANY($2::text[]) AND ${LIVE} GROUP BY key`,
  setsByKey: `SELECT key, json_agg(json_build_array(member, score) ORDER BY score, member) AS members, ${MS('min(expire_at)')} AS expire_at
    FROM sets WHERE ns = $1 AND key = ANY($2::text[]) AND ${LIVE} GROUP BY key`,
  listsByKey: `SELECT key, json_agg(value ORDER BY id DESC) AS items, ${MS('min(expire_at)')} AS expire_at
    FROM lists WHERE ns = $1 AND key = ANY($2::text[]) AND ${LIVE} GROUP BY key`,
  countersByKey: `SELECT key, value, ${MS('expire_at')} AS expire_at FROM counters WHERE ns = $1 AND key = ANY($2::text[]) AND ${LIVE}`,
  locksByResource: `SELECT resource, token, CASE WHEN lease_until > clock_timestamp() THEN ${MS('lease_until')} END AS lease_until FROM locks WHERE ns = $1 AND resource = ANY($2::text[])`,
  serversById: `SELECT id, queues, worker_count, ${MS('started_at')} AS started_at, ${MS('heartbeat_at')} AS heartbeat_at FROM servers WHERE ns = $1 AND id = ANY($2::text[])`,

  track: 'SELECT jobshard_track_unit($1, $2)',
  takeChanges: 'DELETE FROM unit_changes WHERE ns = $1 RETURNING ref',
  drawSeqs: `SELECT nextval(pg_get_serial_sequence('queue_entries', 'seq'))::text AS seq FROM generate_series(1, $1)`,
  insertEntriesAt: `INSERT INTO queue_entries (seq, ns, queue, job_id, token, lease_until, deliveries)
    SELECT u.seq, $1, u.queue, u.job_id, CASE WHEN u.lease_until IS NOT NULL THEN gen_random_uuid()::text END, ${TS('u.lease_until')}, u.deliveries
    FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::int[]) AS u(seq, queue, job_id, lease_until, deliveries)`,
  updateEntries: `UPDATE queue_entries e SET token = CASE WHEN u.lease_until IS NOT NULL THEN gen_random_uuid()::text END,
      lease_until = ${TS('u.lease_until')}, deliveries = u.deliveries
    FROM unnest($2::bigint[], $3::float8[], $4::int[]) AS u(seq, lease_until, deliveries) WHERE e.seq = u.seq AND (e.ns = $1) IS TRUE`,
  deleteJobs: 'DELETE FROM jobs WHERE id = ANY($2::bigint[]) AND (ns = $1) IS TRUE',
  deleteEntries: 'DELETE FROM queue_entries WHERE seq = ANY($2::bigint[]) AND (ns = $1) IS TRUE',
  deleteKeys: {
    h: 'DELETE FROM hashes WHERE ns = $1 AND key = ANY($2::text[])',
    z: 'DELETE FROM sets WHERE ns = $1 AND key = ANY($2::text[])',
    l: 'DELETE FROM lists WHERE ns = $1 AND key = ANY($2::text[])',
    c: 'DELETE FROM counters WHERE ns = $1 AND key = ANY($2::text[])',
    k: 'DELETE FROM locks WHERE ns = $1 AND resource = ANY($2::text[])',
    s: 'DELETE FROM servers WHERE ns = $1 AND id = ANY($2::text[])',
  },

  clear: [
    'DELETE FROM jobs WHERE ns = $1',
    'DELETE FROM queue_entries WHERE ns = $1',
    'DELETE FROM locks WHERE ns = $1',
    'DELETE FROM hashes WHERE ns = $1',
    'DELETE FROM sets WHERE ns = $1',
    'DELETE FROM lists WHERE ns = $1',
    'DELETE FROM counters WHERE ns = $1',
    'DELETE FROM servers WHERE ns = $1',
  ],
} as const;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

type JobRowOut = Record<string, unknown> & { id: string };
type EntryRow = { seq: string; queue: string; job_id: string; deliveries: number; lease_until: number | null };

function entryItem(r: EntryRow): UnitItem {
  return { kind: 'entry', queue: r.queue, seq: r.seq, jobId: r.job_id, deliveries: r.deliveries, leaseUntil: num(r.lease_until) };
}

/** Job rows with their histories (jobs.history, 0015): times in whole milliseconds, as every time the stream carries. */
function jobItems(rows: JobRowOut[]): JobItem[] {
  return rows.map((r): JobItem => ({
    kind: 'job',
    id: r.id,
    type: r.type as string,
    argsJson: r.args as string,
    queue: r.queue as string,
    createdAt: Number(r.created_at),
    expireAt: num(r.expire_at),
    parameters: (r.parameters as Record<string, string>) ?? {},
    history: (r.history as HistoryEntry[]).map((e) => ({ name: e.n, reason: e.r, data: e.d ?? {}, at: Math.round(e.t) })),
    current:
      r.state_name === null
        ? null
        : {
            name: r.state_name as string,
            reason: r.state_reason as string | null,
            data: (r.state_data as Record<string, string>) ?? {},
            at: Number(r.state_at),
          },
  }));
}

export async function* exportPostgresUnit(q: Query, ns: string): AsyncIterable<UnitItem[]> {
  let after = '0';
  for (;;) {
    const { rows } = await q<JobRowOut>(UNIT_SQL.jobs, [ns, after, EXPORT_BATCH]);
    if (rows.length === 0) break;
    yield jobItems(rows);
    after = rows[rows.length - 1]!.id;
  }
  after = '0';
  for (;;) {
    const { rows } = await q<{ seq: string; queue: string; job_id: string; deliveries: number; lease_until: number | null }>(UNIT_SQL.entries, [
      ns,
      after,
      EXPORT_BATCH,
    ]);
    if (rows.length === 0) break;
    yield rows.map(entryItem);
    after = rows[rows.length - 1]!.seq;
  }
  const rest = await otherItems(q, ns, null);
  for (let i = 0; i < rest.length; i += EXPORT_BATCH) yield rest.slice(i, i + EXPORT_BATCH);
}

type Names = Partial<Record<'h' | 'z' | 'l' | 'c' | 'k' | 's', string[]>>;

/** Structures, locks and servers: all of the unit's (names null), or those named. */
async function otherItems(q: Query, ns: string, names: Names | null): Promise<UnitItem[]> {
  const out: UnitItem[] = [];
  const read = async <R extends Record<string, unknown>>(all: string, some: string, which: 'h' | 'z' | 'l' | 'c' | 'k' | 's'): Promise<R[]> => {
    if (names === null) return (await q<R>(all, [ns])).rows;
    const list = names[which];
    return list?.length ? (await q<R>(some, [ns, list])).rows : [];
  };
  for (const r of await read<{ key: string; fields: Record<string, string>; expire_at: number | null }>(UNIT_SQL.hashes, UNIT_SQL.hashesByKey, 'h'))
    out.push({ kind: 'hash', key: r.key, fields: r.fields, expireAt: num(r.expire_at) });
  for (const r of await read<{ key: string; members: Array<[string, number]>; expire_at: number | null }>(UNIT_SQL.sets, UNIT_SQL.setsByKey, 'z'))
    out.push({ kind: 'set', key: r.key, members: r.members.map(([m, sc]) => [m, Number(sc)]), expireAt: num(r.expire_at) });
  for (const r of await read<{ key: string; items: string[]; expire_at: number | null }>(UNIT_SQL.lists, UNIT_SQL.listsByKey, 'l'))
    out.push({ kind: 'list', key: r.key, values: r.items, expireAt: num(r.expire_at) });
  for (const r of await read<{ key: string; value: string; expire_at: number | null }>(UNIT_SQL.counters, UNIT_SQL.countersByKey, 'c'))
    out.push({ kind: 'counter', key: r.key, value: Number(r.value), expireAt: num(r.expire_at) });
  for (const r of await read<{ resource: string; token: string; lease_until: number | null }>(UNIT_SQL.locks, UNIT_SQL.locksByResource, 'k')) {
    out.push({
      kind: 'lock',
      resource: r.resource,
      fence: Number(r.token),
      holder: r.lease_until === null ? null : { token: Number(r.token), leaseUntil: Number(r.lease_until) },
    });
  }
  for (const r of await read<{ id: string; queues: string[]; worker_count: number; started_at: number; heartbeat_at: number }>(
    UNIT_SQL.servers,
    UNIT_SQL.serversById,
    's',
  )) {
    out.push({ kind: 'server', id: r.id, queues: r.queues, workerCount: r.worker_count, startedAt: Number(r.started_at), heartbeatAt: Number(r.heartbeat_at) });
  }
  return out;
}

/** The items refs name as they are now (a delta's reads, at the source); `gone` for each that no longer exists. */
export async function exportPostgresRefs(q: Query, ns: string, refs: readonly ItemRef[]): Promise<UnitItem[]> {
  const jobIds: string[] = [];
  const seqs: string[] = [];
  const names: Names = {};
  for (const ref of refs) {
    const name = ref.slice(2);
    if (ref[0] === 'j') jobIds.push(name);
    else if (ref[0] === 'e') seqs.push(name.slice(name.indexOf(SEP) + 1));
    else (names[ref[0] as keyof Names] ??= []).push(name);
  }
  const found = new Map<ItemRef, UnitItem>();
  const add = (item: UnitItem) => {
    if (item.kind !== 'gone') found.set(itemRef(item), item);
  };
  for (let i = 0; i < jobIds.length; i += EXPORT_BATCH) {
    for (const j of jobItems((await q<JobRowOut>(UNIT_SQL.jobsById, [ns, jobIds.slice(i, i + EXPORT_BATCH)])).rows)) add(j);
  }
  for (let i = 0; i < seqs.length; i += 5_000)
    for (const r of (await q<EntryRow>(UNIT_SQL.entriesBySeq, [ns, seqs.slice(i, i + 5_000)])).rows) add(entryItem(r));
  for (const item of await otherItems(q, ns, names)) add(item);
  // In the order asked (a queue's new entries in FIFO order), each once.
  return [...new Set(refs)].map((ref) => found.get(ref) ?? { kind: 'gone', ref });
}

/** Gives up on a table lock after 100 ms rather than risk a writer's transaction in a deadlock (0013): tried again. */
export async function trackPostgresUnit(q: Query, ns: string, on: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await q(UNIT_SQL.track, [ns, on]);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03' || attempt >= 200) throw err;
      await sleep(Math.min(200, 5 * attempt) * Math.random());
    }
  }
}

export async function takePostgresChanges(q: Query, ns: string): Promise<ItemRef[]> {
  // A row per write (0023): each ref once, in the order first recorded.
  return [...new Set((await q<{ ref: string }>(UNIT_SQL.takeChanges, [ns])).rows.map((r) => r.ref))];
}

/**
 * Imported jobs get ids from this schema's sequence (another shard's ids may
 * be taken here by other units, and a Redis id is not a number); the ids the
 * unit's clients hold are kept in the unit's ALIAS_HASH, which the router
 * resolves them through. An alias hash that came with the unit is carried
 * over with its targets renamed. Queue entries get places from this schema's
 * sequence in the order they come, so each queue keeps its FIFO order.
 */
export function beginPostgresImport(pool: Query, ns: string, fenced?: Transact): UnitImport {
  // Each call's statements, on the pool (one transaction each) or, fenced, in one transaction after the fence's check.
  const run = <T>(work: (q: Query) => Promise<T>): Promise<T> => (fenced ? fenced(work) : work(pool));
  const renamed = new Map<string, string>();
  /** Source entry ref -> this schema's seq. */
  const places = new Map<ItemRef, string>();
  let carried: Record<string, string> = {};
  let aliasExpiry: number | null = null;
  let maxId = 0;

  const insertJobs = async (q: Query, jobs: JobItem[]) => {
    if (jobs.length === 0) return;
    const fresh = jobs.filter((j) => !renamed.has(j.id));
    if (fresh.length > 0) {
      const { rows: ids } = await q<{ id: string }>(UNIT_SQL.drawIds, [fresh.length]);
      fresh.forEach((j, i) => {
        renamed.set(j.id, ids[i]!.id);
        maxId = Math.max(maxId, idNumber(j.id));
      });
      // Written as the jobs come, not at finish: finish runs while the source is frozen.
      await q(UNIT_SQL.upsertAliases, [ns, ALIAS_HASH, JSON.stringify(Object.fromEntries(fresh.map((j) => [j.id, renamed.get(j.id)!]))), null]);
    }
    const ids = jobs.map((j) => renamed.get(j.id)!);
    await q(UNIT_SQL.insertJobs, [
      ns,
      ids,
      jobs.map((j) => j.type),
      jobs.map((j) => j.argsJson),
      jobs.map((j) => j.queue),
      jobs.map((j) => JSON.stringify(j.parameters)),
      jobs.map((j) => j.current?.name ?? null),
      jobs.map((j) => j.current?.reason ?? null),
      jobs.map((j) => (j.current ? JSON.stringify(j.current.data) : null)),
      jobs.map((j) => j.current?.at ?? null),
      jobs.map((j) => j.createdAt),
      jobs.map((j) => j.expireAt),
      jobs.map((j) => JSON.stringify(j.history.map((h): HistoryEntry => ({ n: h.name, r: h.reason, d: h.data, t: h.at })))),
    ]);
  };

  const writeEntries = async (q: Query, entries: Array<Extract<UnitItem, { kind: 'entry' }>>) => {
    const known = entries.filter((e) => renamed.has(e.jobId));
    const moved = known.filter((e) => places.has(itemRef(e)));
    const fresh = known.filter((e) => !places.has(itemRef(e)));
    if (moved.length > 0) {
      await q(UNIT_SQL.updateEntries, [ns, moved.map((e) => places.get(itemRef(e))!), moved.map((e) => e.leaseUntil), moved.map((e) => e.deliveries)]);
    }
    if (fresh.length > 0) {
      const { rows } = await q<{ seq: string }>(UNIT_SQL.drawSeqs, [fresh.length]);
      fresh.forEach((e, i) => places.set(itemRef(e), rows[i]!.seq));
      await q(UNIT_SQL.insertEntriesAt, [
        ns,
        rows.map((r) => r.seq),
        fresh.map((e) => e.queue),
        fresh.map((e) => renamed.get(e.jobId)!),
        fresh.map((e) => e.leaseUntil),
        fresh.map((e) => e.deliveries),
      ]);
    }
  };

  const writeOthers = async (q: Query, items: readonly UnitItem[]) => {
    for (const item of items) {
      switch (item.kind) {
        case 'hash':
          maxId = Math.max(maxId, idFloor(item, 'plain'));
          if (item.key === ALIAS_HASH) {
            carried = item.fields;
            aliasExpiry = item.expireAt;
          } else await q(UNIT_SQL.insertHash, [ns, item.key, JSON.stringify(item.fields), item.expireAt]);
          break;
        case 'set':
          await q(UNIT_SQL.insertSet, [ns, item.key, JSON.stringify(item.members), item.expireAt]);
          break;
        case 'list':
          await q(UNIT_SQL.insertList, [ns, item.key, JSON.stringify(item.values), item.expireAt]);
          break;
        case 'counter':
          await q(UNIT_SQL.insertCounter, [ns, item.key, item.value, item.expireAt]);
          break;
        case 'lock':
          await q(UNIT_SQL.insertLock, [ns, item.resource, item.fence, item.holder?.leaseUntil ?? null]);
          break;
        case 'server':
          await q(UNIT_SQL.insertServer, [ns, item.id, item.queues, item.workerCount, item.startedAt, item.heartbeatAt]);
          break;
        default:
          break;
      }
    }
  };

  const add = async (q: Query, batch: readonly UnitItem[]) => {
    await insertJobs(
      q,
      batch.filter((i): i is JobItem => i.kind === 'job'),
    );
    await writeEntries(
      q,
      batch.filter((i): i is Extract<UnitItem, { kind: 'entry' }> => i.kind === 'entry'),
    );
    await writeOthers(q, batch);
  };

  return {
    add: (batch) => run((q) => add(q, batch)),
    replace: (batch) =>
      run(async (q) => {
        // Remove the earlier copy of everything named (a queue entry that exists is updated in place instead), then write.
        const jobIds: string[] = [];
        const seqs: string[] = [];
        const keys: Record<string, string[]> = {};
        for (const item of batch) {
          const ref = item.kind === 'gone' ? item.ref : itemRef(item);
          const name = ref.slice(2);
          if (ref[0] === 'j') {
            const id = renamed.get(name);
            if (id) jobIds.push(id);
            if (item.kind === 'gone') renamed.delete(name);
          } else if (ref[0] === 'e') {
            if (item.kind === 'gone' && places.has(ref)) {
              seqs.push(places.get(ref)!);
              places.delete(ref);
            }
          } else if (!(ref[0] === 'h' && name === ALIAS_HASH)) (keys[ref[0]!] ??= []).push(name);
        }
        if (jobIds.length > 0) await q(UNIT_SQL.deleteJobs, [ns, jobIds]);
        if (seqs.length > 0) await q(UNIT_SQL.deleteEntries, [ns, seqs]);
        for (const [k, names] of Object.entries(keys)) await q(UNIT_SQL.deleteKeys[k as keyof typeof UNIT_SQL.deleteKeys], [ns, names]);
        await add(q, batch);
      }),
    finish: () =>
      run(async (q) => {
        // The unit's own ids were written as they came; what is left is the alias hash it brought, renamed.
        const aliases: Record<string, string> = {};
        for (const [from, to] of Object.entries(carried)) aliases[from] = renamed.get(to) ?? to;
        // Chunked: one jsonb parameter per statement stays far below any limit.
        const pairs = Object.entries(aliases);
        for (let i = 0; i < pairs.length; i += 5_000) {
          await q(UNIT_SQL.upsertAliases, [ns, ALIAS_HASH, JSON.stringify(Object.fromEntries(pairs.slice(i, i + 5_000))), aliasExpiry]);
        }
        if (maxId > 0) await q(UNIT_SQL.reserveIds, [maxId]);
      }),
  };
}

export async function clearPostgresUnit(q: Query, ns: string): Promise<void> {
  for (const sql of UNIT_SQL.clear) await q(sql, [ns]);
}
