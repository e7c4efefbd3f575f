import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { DUE_SETS } from '../../storage/due-sets.js';

const LUA_DIR = new URL('./lua/', import.meta.url);
const COMMON = readFileSync(new URL('common.lua', LUA_DIR), 'utf8');

/** The scripts in ./lua, each registered once per client and run by SHA (ioredis falls back to EVAL on NOSCRIPT). */
export const SCRIPT_NAMES = [
  'create-job',
  'read-job',
  'set-param',
  'commit',
  'fetch',
  'lease',
  'lock',
  'servers',
  'monitor',
  'import',
  'export-jobs',
  'changes',
  'work',
  'due',
  'sums',
  'set-ownership',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

type Reply = unknown;
export type RunScript = (name: ScriptName, keys: string[], args: Array<string | number>) => Promise<Reply>;

/** A script's whole text as Redis runs it (so its SHA1 names it in EVALSHA). */
export function scriptSource(name: ScriptName, cluster: boolean): string {
  // On a Cluster a script may touch only its namespace's slot: the work index is written outside it (common.lua note_work).
  const due = DUE_SETS.map((k) => `[${JSON.stringify(k)}] = true`).join(', ');
  const preamble = `local WORK_INDEX = ${cluster ? 'false' : 'true'}\nlocal DUE = { ${due} }\n`;
  // common.lua holds the helpers every script uses; each script stays one self-contained file otherwise.
  return `${preamble}${COMMON}\n${readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8')}`;
}

export function registerScripts(client: Redis | Cluster, cluster: boolean): RunScript {
  for (const name of SCRIPT_NAMES) client.defineCommand(`jobshard_${name.replace(/-/g, '_')}`, { lua: scriptSource(name, cluster) });
  return (name, keys, args) => {
    if (cluster) keys = withSlotGuard(keys);
    const command = (client as unknown as Record<string, (n: number, ...a: Array<string | number | Array<string | number>>) => Promise<Reply>>)[
      `jobshard_${name.replace(/-/g, '_')}`
    ]!;
    // The arguments go as one array (ioredis flattens a command's arguments one level): a commit of
    // a group of jobs has hundreds, and spreading them into the call copied them twice.
    return command.call(client, keys.length, ...keys, args);
  };
}

/**
 * On a Cluster, a namespace's script names a second key of its slot; neither it nor the meta key
 * is ever written. While a slot migrates, a command naming one absent key is sent to the importing
 * node (ASK) and runs there, but a command naming several keys, some absent, gets TRYAGAIN on both
 * nodes (ioredis waits and retries). Naming only the meta key ran every script of a migrating
 * namespace on the importing node, where the keys not yet moved read as absent: outcome writes
 * failed with JobNotFoundError and their jobs ran twice (`npm run bench:reshard`). With the guard,
 * a namespace's scripts wait out the migration of its slot. Reads outside scripts touch one key
 * each, which Redis serves from wherever that key is.
 */
export function withSlotGuard(keys: string[]): string[] {
  const first = keys[0];
  const close = first?.indexOf('}') ?? -1;
  if (!first || close === -1 || first.indexOf('{') === -1) return keys;
  return [...keys, `${first.slice(0, close + 1)}:slot-guard`];
}
