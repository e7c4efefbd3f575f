import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freePort } from './redis-server.js';
import { spawnGuarded } from './child.js';

const run = promisify(execFile);

/** A private three-master Redis Cluster on loopback ports, for tests; nothing persists. */
export class PrivateRedisCluster {
  readonly #children: ChildProcess[] = [];
  ports: number[] = [];

  async start(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'jobshard-cluster-'));
    this.ports = [await freePort(), await freePort(), await freePort()];
    for (const port of this.ports) {
      this.#children.push(
        spawnGuarded(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports) {
      for (let i = 0; i < 100; i++) {
        if (
          await run('redis-cli', ['-p', String(port), 'ping']).then(
            (r) => r.stdout.includes('PONG'),
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (let i = 0; i < 100; i++) {
      const info = await run('redis-cli', ['-p', String(this.ports[0]), 'cluster', 'info']).then(
        (r) => r.stdout,
        () => '',
      );
      if (info.includes('cluster_state:ok')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the test cluster did not become ready');
  }

  /** The node id of the master on each port, in the order of `ports`. */
  async nodeIds(): Promise<string[]> {
    return Promise.all(this.ports.map(async (port) => (await run('redis-cli', ['-p', String(port), 'cluster', 'myid'])).stdout.trim()));
  }

  /** Moves `slots` slots from master `from` to master `to` (indexes into `ports`) with `redis-cli --cluster reshard`, as an operator would. */
  async reshard(from: number, to: number, slots: number): Promise<void> {
    const ids = await this.nodeIds();
    await run(
      'redis-cli',
      [
        '--cluster',
        'reshard',
        `127.0.0.1:${this.ports[0]}`,
        '--cluster-from',
        ids[from]!,
        '--cluster-to',
        ids[to]!,
        '--cluster-slots',
        String(slots),
        '--cluster-yes',
      ],
      { maxBuffer: 64 << 20 },
    );
  }

  /** Closes slots a reshard left open (migrating on one node, importing on another), as `redis-cli --cluster fix` does for an operator. */
  async fix(): Promise<void> {
    await run('redis-cli', ['--cluster', 'fix', `127.0.0.1:${this.ports[0]}`, '--cluster-yes'], { maxBuffer: 64 << 20 });
  }

  client(): Cluster {
    return new Cluster(
      this.ports.map((port) => ({ host: '127.0.0.1', port })),
      { enableOfflineQueue: true },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
  }
}
