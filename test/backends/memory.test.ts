import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { runConformance } from '../conformance/index.js';
import { TEST_POLL_MS } from '../helpers/servers.js';

const backend = new MemoryBackend({ pollIntervalMs: TEST_POLL_MS });
const fresh = () => backend.storage(`t-${randomUUID()}`);

runConformance(test, {
  name: 'memory',
  storage: async () => fresh(),
  pair: async () => [fresh(), fresh()],
  backend,
  teardown: () => backend.close(),
});
