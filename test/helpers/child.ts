import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const EXIT_WITH_PARENT = new URL('./exit-with-parent.ts', import.meta.url).href;

/** util-linux's setpriv (Debian: essential), or null where it is missing. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

/**
 * spawn, with the child killed by the kernel when this process dies, however it dies
 * (`setpriv --pdeathsig SIGKILL`, which execs the command in place: the pid is the command's).
 * For what a test starts outside startChild, redis-server and Prometheus included: a test process
 * killed at its timeout left them running. Where setpriv is missing, a plain spawn.
 */
// Typed as spawn, so a call's stdio option types its streams; it is always called with arguments.
export const spawnGuarded = ((command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess =>
  SETPRIV ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args], options) : spawn(command, args, options)) as typeof spawn;

/** Starts a TypeScript helper in its own Node process and resolves on the first stdout line matching `ready`. */
export async function startChild(
  script: string,
  args: string[],
  ready: RegExp,
  timeoutMs = 15_000,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  // The IPC channel carries nothing: it closes when this process ends, however it ends, and the
  // child exits with it (exit-with-parent.ts).
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', EXIT_WITH_PARENT, path, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child ${script} not ready after ${timeoutMs} ms: ${out} ${err}`)), timeoutMs);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => reject(new Error(`child ${script} exited ${code}: ${out} ${err}`)));
  });
  return { child, match, output: () => out };
}

export function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
