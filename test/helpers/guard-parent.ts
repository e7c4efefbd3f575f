// A parent for child.test.ts: starts `sleep 60` (guarded or plain, per argv[2]), prints its pid, and waits to be killed.
import { spawn } from 'node:child_process';
import { spawnGuarded } from './child.js';

const child = process.argv[2] === 'guarded' ? spawnGuarded('sleep', ['60'], { stdio: 'ignore' }) : spawn('sleep', ['60'], { stdio: 'ignore' });
process.stdout.write(`pid ${child.pid}\n`);
setInterval(() => {}, 1_000);
