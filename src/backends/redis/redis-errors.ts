import { ShardUnavailableError } from '../../storage/errors.js';

const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|Stream isn't writeable|Connection is closed|MaxRetriesPerRequest|connect timed out|Command timed out/i;

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return !!e && (UNREACHABLE.test(e.message ?? '') || UNREACHABLE.test(e.code ?? ''));
}

/** Connection failures become ShardUnavailableError naming the address; other errors pass through. */
export function mapRedisError(err: unknown, where: string): unknown {
  if (!isConnectionError(err)) return err;
  return new ShardUnavailableError(where, `cannot reach Redis at ${where}: ${(err as Error).message}; is the server running and the address right?`, {
    cause: err,
  });
}
