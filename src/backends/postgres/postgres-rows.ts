import type { JobRecord, StateRecord } from '../../storage/job.js';

/** A `jobs` row as pg returns it (bigint as string, timestamptz as Date, jsonb parsed). */
export interface JobRow {
  id: string;
  type: string;
  args: string;
  queue: string;
  parameters: Record<string, string>;
  state_name: string | null;
  state_reason: string | null;
  state_data: Record<string, string> | null;
  state_at: Date | null;
  created_at: Date;
  expire_at: Date | null;
}

/** A row of the fetch statement: the leased entry (seq null on the last row: next_visible_ms), then its job's columns prefixed j_ (null if gone). */
export type FetchRow = {
  seq: string | null;
  job_id: string;
  queue: string;
  token: string;
  deliveries: number;
  next_visible_ms: string | null;
} & { [K in Exclude<keyof JobRow, 'id'> as `j_${K}`]: JobRow[K] } & { j_id: string | null };

export function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    type: row.type,
    args: JSON.parse(row.args),
    queue: row.queue,
    state: row.state_name,
    stateReason: row.state_reason,
    stateData: row.state_data ?? {},
    stateAt: row.state_at,
    createdAt: row.created_at,
    parameters: row.parameters,
    expireAt: row.expire_at,
  };
}

/** One element of jobs.history (migration 0015); t is milliseconds since 1970, with microseconds. */
export interface HistoryEntry {
  n: string;
  r: string | null;
  d: Record<string, string> | null;
  t: number;
}

/** Whole milliseconds, cut as pg cuts a timestamptz column's microseconds, so a state's time and its history entry's agree. */
export function toStateRecord(e: HistoryEntry): StateRecord {
  return { name: e.n, reason: e.r, data: e.d ?? {}, createdAt: new Date(Math.floor(e.t)) };
}

/** Ids are bigserial: anything else cannot name a job here, so it is "not found" without a query. */
export function parseJobId(id: string): string | null {
  return /^[1-9]\d{0,17}$/.test(id) ? id : null;
}
