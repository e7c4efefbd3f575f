import test from 'ava';
import { randomUUID } from 'node:crypto';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';
import { processingSuite } from './suite.js';

const schema = freshSchema();
const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 20 });
test.after.always(async () => {
  await backend.close();
  await dropSchema(schema);
});
processingSuite(test, 'postgres', async () => backend.storage(`p-${randomUUID()}`));
