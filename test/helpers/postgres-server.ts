import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

/** The newest installed PostgreSQL server binaries (Debian puts them under /usr/lib/postgresql/<major>/bin). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt install postgresql)');
  return join(root, majors[0]!, 'bin');
}

/**
 * A private PostgreSQL cluster (initdb in a temporary directory, its own loopback port), so a
 * soak or a test may crash and restart it without touching the shared server. As root, it runs as
 * the `postgres` user: the server refuses to run as root.
 */
export class PrivatePostgres {
  readonly #dir = mkdtempSync(join(tmpdir(), 'jobshard-pg-'));
  readonly #bin = binDir();
  port = 0;

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async #as(cmd: string, args: string[]): Promise<void> {
    const asRoot = process.getuid?.() === 0;
    await run(asRoot ? 'runuser' : join(this.#bin, cmd), asRoot ? ['-u', 'postgres', '--', join(this.#bin, cmd), ...args] : args, { cwd: '/' });
  }

  async start(): Promise<void> {
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(this.#dir, Number(stdout.trim()), Number(gid.trim()));
    }
    this.port = await freePort();
    await this.#as('initdb', ['-D', join(this.#dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await this.#pgCtl('start');
  }

  #pgCtl(action: 'start' | 'restart' | 'stop'): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.#dir} -c max_connections=200`;
    // immediate: the server stops as after a crash (no checkpoint), and the start replays its WAL.
    return this.#as('pg_ctl', ['-D', join(this.#dir, 'data'), '-o', options, '-l', join(this.#dir, 'log'), '-m', 'immediate', '-w', '-t', '60', action]);
  }

  /** Crashes the server (immediate shutdown: every connection cut, no checkpoint) and starts it again. */
  restart(): Promise<void> {
    return this.#pgCtl('restart');
  }

  async stop(): Promise<void> {
    await this.#pgCtl('stop').catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
