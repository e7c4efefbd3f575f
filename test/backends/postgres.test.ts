import test from 'ava';
import { randomUUID } from 'node:crypto';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { runConformance } from '../conformance/index.js';
import { dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';

// One schema for this file (dropped afterwards), one namespace per test: a
// schema per test would need a pool and a LISTEN connection per test, over
// Postgres's default 100 connections when ava runs them concurrently.
const schema = freshSchema();
const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 20 });
const fresh = () => backend.storage(`t-${randomUUID()}`);

runConformance(test, {
  name: 'postgres',
  storage: async () => fresh(),
  pair: async () => [fresh(), fresh()],
  backend,
  teardown: async () => {
    await backend.close();
    await dropSchema(schema);
  },
});
