// A separate process that clears one unit of a Redis backend (a move's cleanup), for a test to kill
// it part way. Usage: tsx unit-clearer.ts '<json {url, prefix, namespace}>'
// Prints "ready" once connected, "clearing" as it starts, "cleared" when done.
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';

const cfg = JSON.parse(process.argv[2]!) as { url: string; prefix: string; namespace: string };
const backend = new RedisBackend({ url: cfg.url, prefix: cfg.prefix, sweepIntervalMs: 0 });
await backend.open();
process.stdout.write('ready\n');
process.stdout.write('clearing\n');
await backend.clearUnit(cfg.namespace);
process.stdout.write('cleared\n');
await backend.close();
