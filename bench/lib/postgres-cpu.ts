// CPU time of every postgres process on this machine, from /proc: run on a quiet machine with a local server.
import { readdirSync, readFileSync } from 'node:fs';

/** User + system CPU of all postgres processes so far, µs (clock ticks of 10 ms). */
export function postgresCpuUs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = /\(([^)]*)\)/.exec(stat)![1]!;
      if (!name.startsWith('postgres')) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return (ticks * 1e6) / 100;
}
