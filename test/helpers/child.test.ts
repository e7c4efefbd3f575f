// The guard the test helpers start processes with: a child started by spawnGuarded dies with the
// process that started it, even when that one is SIGKILLed; a plain spawn's child lives on.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PARENT = fileURLToPath(new URL('./guard-parent.ts', import.meta.url));

/**
 * Whether the process runs. A killed child whose parent is gone stays a zombie until PID 1 reaps it,
 * and signal 0 still reaches a zombie; so a zombie (state Z in /proc) counts as gone. One CI run
 * under load found the guarded child still answering signal 0 after the 2 s wait; whether it was
 * a zombie then was not recorded.
 */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

async function orphanOf(mode: 'guarded' | 'plain'): Promise<number> {
  const parent = spawn(process.execPath, ['--import', 'tsx', PARENT, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.on('data', (d) => {
      out += d;
      const m = /pid (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    parent.on('exit', () => reject(new Error(`parent exited: ${out}`)));
  });
  await new Promise<void>((resolve) => {
    parent.once('exit', () => resolve());
    parent.kill('SIGKILL');
  });
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return pid;
}

test('a child started by spawnGuarded dies with its SIGKILLed parent; a plain child lives on (the control)', async (t) => {
  const guarded = await orphanOf('guarded');
  t.false(alive(guarded), 'the guarded child is gone');
  const plain = await orphanOf('plain');
  t.true(alive(plain), 'the plain child outlived its parent: without the guard this test would fail');
  process.kill(plain, 'SIGKILL');
});
