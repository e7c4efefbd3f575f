// Opens two RedisBackends on the server at argv[2] (as a service with two shards on one server
// would), enqueues a job through each, and exits: its stderr shows the warnings it emitted.
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';

const backends = [new RedisBackend({ url: process.argv[2]!, prefix: 'warn-a:' }), new RedisBackend({ url: process.argv[2]!, prefix: 'warn-b:' })];
for (const b of backends) {
  await b.open();
  await b.storage('t').jobs.create({ type: 'x', args: [], queue: 'q' });
}
await new Promise((r) => setTimeout(r, 200)); // the check runs beside the first call
for (const b of backends) await b.close();
console.log('opened');
