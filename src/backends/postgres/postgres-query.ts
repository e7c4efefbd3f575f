import type { QueryResultRow } from 'pg';

/** Runs one parameterised statement on the pool, mapping connection failures to ShardUnavailableError. */
export type Query = <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]) => Promise<{ rows: R[]; rowCount: number | null }>;

/** Runs `work` in one transaction on one pooled connection: committed when it resolves, rolled back when it throws. */
export type Transact = <T>(work: (q: Query) => Promise<T>) => Promise<T>;
