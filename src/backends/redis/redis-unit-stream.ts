import { Redis, type Cluster } from 'ioredis';
import { EXPORT_BATCH, type ItemState, type UnitItem } from '../../storage/unit-stream.js';
import type { RunCommand } from './redis-data.js';
import type { RedisKeys } from './redis-keys.js';

/** Every key of the namespace (SCAN; on a Cluster, on each master: the namespace's slot is on one). */
export async function namespaceKeys(run: RunCommand, keys: RedisKeys, pattern?: string): Promise<string[]> {
  const match = pattern ?? `${keys.base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  return run(async (c: Redis | Cluster) => {
    const nodes = 'nodes' in c && typeof c.nodes === 'function' && !(c instanceof Redis) ? c.nodes('master') : [c as Redis];
    const out = new Set<string>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        for (const k of found) out.add(k);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...out];
  });
}

const at = (ms: string | null | undefined): number | null => (ms === null || ms === undefined || ms === '' ? null : Number(ms));
const expiryOf = (pttl: number): number | null => (pttl >= 0 ? Date.now() + pttl : null);

function pairs(list: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

/**
 * Reads the namespace's keys into export items. Key names say what each
 * holds (redis-keys.ts, the scripts): `job:<id>` with `:p` and `:h`, the queue
 * sets `q:` (waiting, by place) and `ql:` (leased, by deadline) with `qd:`
 * (deliveries), the structures `h: z: l: c:`, `lock:` and `fence:`, and the
 * server registry. Indexes (`state:`, `expiring`, `queues`, counters) are
 * rebuilt by the import.
 */
export async function* exportRedisUnit(run: RunCommand, keys: RedisKeys): AsyncIterable<UnitItem[]> {
  const all = (await namespaceKeys(run, keys)).map((k) => k.slice(keys.base.length));
  const jobIds = all.filter((k) => k.startsWith('job:') && !k.endsWith(':p') && !k.endsWith(':h')).map((k) => k.slice(4))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  for (let i = 0; i < jobIds.length; i += EXPORT_BATCH) {
    const ids = jobIds.slice(i, i + EXPORT_BATCH);
    const replies = await run((c) => {
      const p = c.pipeline();
      for (const id of ids) {
        const k = `${keys.base}job:${id}`;
        p.hgetall(k).hgetall(`${k}:p`).lrange(`${k}:h`, 0, -1);
      }
      return p.exec();
    });
    const items: UnitItem[] = [];
    ids.forEach((id, n) => {
      const job = replies![n * 3]![1] as Record<string, string>;
      if (!job.type) return; // expired between the scan and the read
      const history = (replies![n * 3 + 2]![1] as string[]).map((e): ItemState => {
        const s = JSON.parse(e) as { name: string; reason?: string; data: Record<string, string> | []; createdAt: number };
        return { name: s.name, reason: s.reason ?? null, data: Array.isArray(s.data) ? {} : s.data, at: s.createdAt };
      });
      items.push({
        kind: 'job', id, type: job.type, argsJson: job.args!, queue: job.queue!, createdAt: Number(job.createdAt), expireAt: at(job.expireAt),
        parameters: replies![n * 3 + 1]![1] as Record<string, string>, history,
        current: job.stateName ? { name: job.stateName, reason: job.stateReason ?? null, data: JSON.parse(job.stateData ?? '{}') as Record<string, string>, at: Number(job.stateAt) } : null,
      });
    });
    yield items;
  }

  const now = Date.now();
  const queues = new Set(all.filter((k) => k.startsWith('q:') || k.startsWith('ql:')).map((k) => k.slice(k.indexOf(':') + 1)));
  for (const queue of [...queues].sort()) {
    const [waiting, leased, deliveries] = await run((c) => Promise.all([
      c.zrange(`${keys.base}q:${queue}`, 0, -1, 'WITHSCORES'),
      c.zrange(`${keys.base}ql:${queue}`, 0, -1, 'WITHSCORES'),
      c.hgetall(`${keys.base}qd:${queue}`),
    ]));
    const entries: Array<{ seq: number; jobId: string; leaseUntil: number | null }> = [];
    for (const [member] of pairs(waiting)) entries.push({ seq: Number.parseInt(member, 10), jobId: member.slice(member.indexOf(':') + 1), leaseUntil: null });
    for (const [member, deadline] of pairs(leased)) {
      const until = Number(deadline);
      entries.push({ seq: Number.parseInt(member, 10), jobId: member.slice(member.indexOf(':') + 1), leaseUntil: until > now ? until : null });
    }
    entries.sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < entries.length; i += EXPORT_BATCH) {
      yield entries.slice(i, i + EXPORT_BATCH).map((e) => ({ kind: 'entry', queue, jobId: e.jobId, deliveries: Number(deliveries[String(e.seq)] ?? 0), leaseUntil: e.leaseUntil }));
    }
  }

  const rest: UnitItem[] = [];
  const structures = all.filter((k) => /^(h|z|l|c):/.test(k));
  const locks = all.filter((k) => k.startsWith('fence:')).map((k) => k.slice(6));
  const replies = await run((c) => {
    const p = c.pipeline();
    for (const k of structures) {
      const full = keys.base + k;
      if (k[0] === 'h') p.hgetall(full);
      else if (k[0] === 'z') p.zrange(full, 0, -1, 'WITHSCORES');
      else if (k[0] === 'l') p.lrange(full, 0, -1);
      else p.get(full);
      p.pttl(full);
    }
    for (const r of locks) p.get(keys.fence(r)).get(keys.lock(r)).pttl(keys.lock(r));
    p.hgetall(`${keys.base}servers`).zrange(`${keys.base}beats`, 0, -1, 'WITHSCORES');
    return p.exec();
  });
  const value = (i: number) => replies![i]![1];
  let i = 0;
  for (const k of structures) {
    const key = k.slice(2);
    const v = value(i++);
    const expireAt = expiryOf(Number(value(i++)));
    if (k[0] === 'h') rest.push({ kind: 'hash', key, fields: v as Record<string, string>, expireAt });
    else if (k[0] === 'z') rest.push({ kind: 'set', key, members: pairs(v as string[]).map(([m, s]) => [m, Number(s)]), expireAt });
    else if (k[0] === 'l') rest.push({ kind: 'list', key, values: v as string[], expireAt });
    else rest.push({ kind: 'counter', key, value: Number(v), expireAt });
  }
  for (const resource of locks) {
    const fence = Number(value(i++));
    const holder = value(i++) as string | null;
    const pttl = Number(value(i++));
    rest.push({ kind: 'lock', resource, fence, holder: holder !== null && pttl > 0 ? { token: Number(holder), leaseUntil: Date.now() + pttl } : null });
  }
  const servers = value(i++) as Record<string, string>;
  const beats = new Map(pairs(value(i++) as string[]));
  for (const [id, json] of Object.entries(servers)) {
    const info = JSON.parse(json) as { queues: string[]; workerCount: number; startedAt: number };
    rest.push({ kind: 'server', id, queues: info.queues, workerCount: info.workerCount, startedAt: info.startedAt, heartbeatAt: Number(beats.get(id) ?? info.startedAt) });
  }
  for (let j = 0; j < rest.length; j += EXPORT_BATCH) yield rest.slice(j, j + EXPORT_BATCH);
}

const s = (n: number | null) => (n === null ? '' : String(n));

/** An item as import.lua reads it: numbers as strings, lists flat, history entries in their stored form. */
export function luaItem(item: UnitItem): Record<string, unknown> {
  switch (item.kind) {
    case 'job': return {
      kind: 'job', id: item.id, type: item.type, args: item.argsJson, queue: item.queue, createdAt: String(item.createdAt), expireAt: s(item.expireAt),
      params: Object.entries(item.parameters).flat(),
      history: item.history.map((h) => JSON.stringify({ name: h.name, reason: h.reason ?? undefined, data: h.data, createdAt: h.at })),
      state: item.current ? { name: item.current.name, reason: item.current.reason ?? undefined, data: JSON.stringify(item.current.data), at: String(item.current.at) } : undefined,
    };
    case 'entry': return { kind: 'entry', queue: item.queue, jobId: item.jobId, deliveries: String(item.deliveries), leaseUntil: s(item.leaseUntil) };
    case 'hash': return { kind: 'hash', key: item.key, fields: Object.entries(item.fields).flat(), expireAt: s(item.expireAt) };
    case 'set': return { kind: 'set', key: item.key, members: item.members.flatMap(([m, score]) => [score === Infinity ? '+inf' : score === -Infinity ? '-inf' : String(score), m]), expireAt: s(item.expireAt) };
    case 'list': return { kind: 'list', key: item.key, values: item.values, expireAt: s(item.expireAt) };
    case 'counter': return { kind: 'counter', key: item.key, value: String(item.value), expireAt: s(item.expireAt) };
    case 'lock': return { kind: 'lock', resource: item.resource, fence: String(item.fence), holder: item.holder ? String(item.holder.token) : '', leaseUntil: s(item.holder?.leaseUntil ?? null) };
    case 'server': return { kind: 'server', id: item.id, info: JSON.stringify({ queues: item.queues, workerCount: item.workerCount, startedAt: item.startedAt }), heartbeatAt: String(item.heartbeatAt) };
  }
}
