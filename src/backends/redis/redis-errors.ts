import { ShardUnavailableError } from '../../storage/errors.js';

const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|Stream isn't writeable|Connection is closed|MaxRetriesPerRequest|connect timed out|Command timed out/i;

// ioredis retries TRYAGAIN (a slot mid-migration) and CLUSTERDOWN up to maxRedirections times, then
// fails with "Too many Cluster redirections": the shard is up but this namespace's slot is not
// ready yet, so the caller may retry as after a lost connection.
const SLOT_UNSETTLED = /Too many Cluster redirections|^TRYAGAIN|^CLUSTERDOWN/;

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return !!e && (UNREACHABLE.test(e.message ?? '') || UNREACHABLE.test(e.code ?? ''));
}

/** Connection failures and a slot that stays mid-migration become ShardUnavailableError naming the address; other errors pass through. */
export function mapRedisError(err: unknown, where: string): unknown {
  const message = (err as Error | null)?.message ?? '';
  if (SLOT_UNSETTLED.test(message))
    return new ShardUnavailableError(where, `the Redis Cluster slot of this namespace is migrating or down (${message}); retry after the reshard`, {
      cause: err,
    });
  if (!isConnectionError(err)) return err;
  return new ShardUnavailableError(where, `cannot reach Redis at ${where}: ${message}; is the server running and the address right?`, {
    cause: err,
  });
}
