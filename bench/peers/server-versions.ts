import { Redis } from 'ioredis';
import { adminQuery, REDIS_URL } from '../../test/helpers/servers.js';

export async function serverVersions(): Promise<string> {
  const [pg] = await adminQuery<{ server_version: string }>('SHOW server_version');
  const r = new Redis(REDIS_URL);
  try {
    const info = await r.info('server');
    return `PostgreSQL ${pg!.server_version}, Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`;
  } finally {
    r.disconnect();
  }
}
