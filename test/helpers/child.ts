import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const EXIT_WITH_PARENT = new URL('./exit-with-parent.ts', import.meta.url).href;

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
