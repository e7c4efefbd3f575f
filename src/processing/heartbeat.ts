import { isJobshardError } from '../storage/errors.js';
import type { ServerInfo, ServerRegistry } from '../storage/servers.js';

/**
 * One heartbeat of a server record: registers it again if a peer declared it dead (after a long
 * pause, say), then removes the records of servers silent for timeoutMs.
 */
export async function heartbeat(servers: ServerRegistry, id: string, info: ServerInfo, timeoutMs: number): Promise<void> {
  try {
    await servers.heartbeat(id);
  } catch (err) {
    if (!isJobshardError(err, 'SERVER_GONE')) throw err;
    await servers.announce(id, info);
  }
  await servers.removeTimedOut(timeoutMs);
}
