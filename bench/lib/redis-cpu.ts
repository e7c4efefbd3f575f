// Redis's own CPU time, from INFO cpu: commandstats time commands by the clock, this by the CPU.
import type { Redis } from 'ioredis';

/** User + system CPU of the Redis server so far, µs. */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)![1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}
