import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { spawnGuarded } from './child.js';

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A private redis-server on its own port, so a test may kill it without touching anyone else's. */
export class PrivateRedis {
  #child: ChildProcess | null = null;
  #dir: string | null = null;
  /** `aof`: run with appendonly yes and this fsync policy, its files in a directory kept across restarts. */
  constructor(
    readonly port: number,
    readonly options: { aof?: 'everysec' | 'always' } = {},
  ) {}

  /** Deletes the AOF directory (after the last kill). */
  cleanup(): void {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const persistence = this.options.aof
      ? ['--appendonly', 'yes', '--appendfsync', this.options.aof, '--dir', (this.#dir ??= mkdtempSync(join(tmpdir(), 'jobshard-redis-')))]
      : ['--appendonly', 'no'];
    this.#child = spawnGuarded('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const r = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
