import { ShardUnavailableError } from '../../storage/errors.js';

// Network errors and SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, terminated).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN']);

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && (NETWORK_CODES.has(e.code) || e.code.startsWith('08') || e.code.startsWith('57P'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e.message ?? '');
}

/** Connection failures become ShardUnavailableError naming where we tried to connect; other errors pass through. */
export function mapPgError(err: unknown, where: string): unknown {
  if (!isConnectionError(err)) return err;
  return new ShardUnavailableError(
    where,
    `cannot reach Postgres at ${where}: ${(err as Error).message || (err as { code?: string }).code}; is the server running and the address right?`,
    { cause: err },
  );
}
