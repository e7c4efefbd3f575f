import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { processingSuite } from './suite.js';

const backend = new MemoryBackend();
test.after.always(() => backend.close());
processingSuite(test, 'memory', async () => backend.storage(`p-${randomUUID()}`));
