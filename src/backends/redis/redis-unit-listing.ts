import { Redis, type Cluster } from 'ioredis';
import type { RunCommand } from './redis-data.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * SCANs the keys matching `match` (on a Cluster, on each master: a namespace's slot is on one of
 * them), handing each page to `page`; stops early when `page` returns true, and says whether it did.
 */
export async function scanKeys(run: RunCommand, match: string, page: (keys: string[]) => boolean): Promise<boolean> {
  return run(async (c: Redis | Cluster) => {
    const nodes = 'nodes' in c && typeof c.nodes === 'function' && !(c instanceof Redis) ? c.nodes('master') : [c as Redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        if (page(found)) return true;
        cursor = next;
      } while (cursor !== '0');
    }
    return false;
  });
}

/** Text as a literal inside a SCAN MATCH pattern. */
export const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/** The SCAN pattern of every key of a namespace. */
export const namespacePattern = (keys: RedisKeys) => `${globEscape(keys.base)}*`;

/**
 * A unit's contents by name: its job ids, and the names (after the namespace's base) of its other
 * keys that hold data: the queues' `q:` (and, when scanned, `ql:` and `qd:`), the structures'
 * `h: z: l: c:` and the locks' `fence:`. A listing may name what no longer exists; a reader skips it.
 */
export interface UnitListing {
  jobIds: Set<string>;
  names: Set<string>;
  /** How it was made: by the unit's registry, or by a SCAN of the whole keyspace. */
  by: 'registry' | 'scan';
}

/**
 * The bookkeeping keys a namespace may hold besides its data (common.lua): what a cleanup removes
 * with the data, the ownership record `own` excepted. `state:<name>` indexes are added per state.
 */
export const BOOKKEEPING_KEYS = [
  'states',
  'stateless',
  'queues',
  'expiring',
  'seq:job',
  'seq:q',
  'servers',
  'beats',
  'chg',
  'keys',
  'keys:at',
  'jobstate',
] as const;

/**
 * Lists a unit. A unit whose ownership record has `reg` (common.lua register_key) is listed from its
 * registry: its state indexes (every job is in one, or in `stateless`), its `queues` set and its key
 * registry. Then the listing costs the unit's size, not the keyspace's: every move of one tenant
 * SCANned every key of every tenant on its Redis. An older unit is SCANned as before.
 * Either way, what is written while the listing runs may be missed: a move tracks those writes and
 * copies them in its catch-up. ZSCAN and SSCAN, like SCAN, return every member present throughout.
 */
export async function listUnit(run: RunCommand, keys: RedisKeys): Promise<UnitListing> {
  const registered = (await run((c) => c.hget(keys.ownership, 'reg'))) === '1';
  return registered ? listByRegistry(run, keys) : listByScan(run, keys);
}

/** The listing by a SCAN of the keyspace (exported for tests, which compare it with the registry's). */
export async function listByScan(run: RunCommand, keys: RedisKeys): Promise<UnitListing> {
  // Sorted out as the scan goes: a job's id once (not its `:p` and `:h` keys) and the other keys by
  // name. The whole listing, held until the export ended, was three key names a job in the mover
  // (25 MB at 100,000 jobs). Sets, since a SCAN may return a key twice.
  const base = keys.base.length;
  const jobIds = new Set<string>();
  const names = new Set<string>();
  await scanKeys(run, namespacePattern(keys), (found) => {
    for (const key of found) {
      if (!key.startsWith('job:', base)) names.add(key.slice(base));
      else if (!key.endsWith(':p') && !key.endsWith(':h')) jobIds.add(key.slice(base + 4));
    }
    return false;
  });
  return { jobIds, names, by: 'scan' };
}

/** The listing by the unit's registry; complete only for a unit marked `reg`. */
export async function listByRegistry(run: RunCommand, keys: RedisKeys): Promise<UnitListing> {
  const [indexes, queues] = await Promise.all([stateIndexes(run, keys), run((c) => c.smembers(`${keys.base}queues`))]);
  const jobIds = new Set<string>();
  for (const index of indexes) {
    await scanMembers(run, 'zscan', `${keys.base}${index}`, (found) => {
      for (let i = 0; i < found.length; i += 2) jobIds.add(found[i]!);
      return false;
    });
  }
  const names = new Set<string>(queues.map((q) => `q:${q}`));
  await scanMembers(run, 'sscan', `${keys.base}keys`, (found) => {
    for (const name of found) names.add(name);
    return false;
  });
  return { jobIds, names, by: 'registry' };
}

/** The names (after the base) of the indexes that hold every job of a registered unit: one per state, and `stateless`. */
export async function stateIndexes(run: RunCommand, keys: RedisKeys): Promise<string[]> {
  const states = await run((c) => c.smembers(`${keys.base}states`));
  return [...states.map((s) => `state:${s}`), 'stateless'];
}

/**
 * Every member of a set (SSCAN) or of a sorted set (ZSCAN: member, score, …), handed to `page` page
 * by page; stops early when `page` says true, and says whether it did.
 */
async function scanMembers(run: RunCommand, command: 'sscan' | 'zscan', key: string, page: (found: string[]) => boolean | Promise<boolean>): Promise<boolean> {
  let cursor = '0';
  do {
    const [next, found] = await run((c) => c[command](key, cursor, 'COUNT', 1000));
    if (await page(found)) return true;
    cursor = next;
  } while (cursor !== '0');
  return false;
}

/**
 * Whether a registered unit holds data (RedisNamespace.hasData), by its registry instead of a SCAN:
 * a queue with entries, a registered key that exists, or an indexed job whose key exists. Registry
 * and index entries may outlive their keys (expiry), so each is checked, page by page, up to the
 * first that exists.
 */
export async function registryHoldsData(run: RunCommand, keys: RedisKeys): Promise<boolean> {
  const base = keys.base;
  const exists = async (names: string[]) => names.length > 0 && (await run((c) => c.exists(...names.map((n) => base + n)))) > 0;
  const queues = await run((c) => c.smembers(`${base}queues`));
  if (await exists(queues.flatMap((q) => [`q:${q}`, `ql:${q}`]))) return true;
  if (await scanMembers(run, 'sscan', `${base}keys`, exists)) return true;
  const jobKeys = (found: string[]) => found.filter((_, i) => i % 2 === 0).map((id) => `job:${id}`);
  for (const index of await stateIndexes(run, keys)) if (await scanMembers(run, 'zscan', base + index, (found) => exists(jobKeys(found)))) return true;
  return false;
}
