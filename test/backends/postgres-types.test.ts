// The Postgres backend's timestamptz parser: the same Date as pg's own parser, on every shape.
import test from 'ava';
import fc from 'fast-check';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { parseIsoTimestamptz, POSTGRES_TYPES } from '../../src/backends/postgres/postgres-types.js';
import { enqueueJob } from '../conformance/helpers.js';
import { dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';

const pgParse = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (s: string) => unknown;
const ours = POSTGRES_TYPES.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (s: string) => unknown;
const pad = (n: number, w: number) => String(n).padStart(w, '0');

test('ISO timestamptz text, any fraction and offset: the same instant as pg parses', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1000, max: 9999 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 28 }),
      fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 })),
      fc.option(fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: 10 ** n - 1 })))),
      fc.tuple(
        fc.constantFrom('+', '-'),
        fc.integer({ min: 0, max: 15 }),
        fc.option(fc.integer({ min: 0, max: 59 })),
        fc.option(fc.integer({ min: 0, max: 59 })),
      ),
      (y, mo, d, [h, mi, s], frac, [sign, oh, om, os]) => {
        let text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`;
        if (frac) text += `.${pad(frac[1], frac[0])}`;
        text += `${sign}${pad(oh, 2)}`;
        if (om !== null) text += `:${pad(om, 2)}${os !== null ? `:${pad(os, 2)}` : ''}`;
        const fast = parseIsoTimestamptz(text);
        t.truthy(fast, text);
        t.is(fast!.getTime(), (pgParse(text) as Date).getTime(), text);
      },
    ),
    { numRuns: 5_000 },
  );
});

test('other shapes are left to pg: infinity, BC, years below 100, no offset, a truncated string', (t) => {
  for (const text of [
    'infinity',
    '-infinity',
    '0044-03-15 12:00:00+00 BC',
    '0099-01-01 00:00:00+00',
    '2026-12-06 19:50:12',
    '2026-12-06 19:50:1',
    '2026-12-06 19:50:12.+00',
    '2026-12-06 19:50:12+0',
    'Sun Dec 06 19:50:12 2026 UTC',
  ]) {
    t.is(parseIsoTimestamptz(text), null, text);
    const [a, b] = [ours(text), pgParse(text)];
    t.deepEqual(a instanceof Date ? a.getTime() : a, b instanceof Date ? b.getTime() : b, text);
  }
});

test('a backend reads the instants Postgres stored under any session time zone; a pool given its own types keeps them', async (t) => {
  const schema = freshSchema();
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const backends: PostgresBackend[] = [];
  t.teardown(async () => {
    await client.end();
    await Promise.all(backends.map((b) => b.close()));
    await dropSchema(schema);
  });
  const instants = ['2026-12-06 19:50:12.123456+00', '1999-12-31 23:59:59.999999+00', '2026-03-29 01:30:00+00', '1970-01-01 00:00:00.000001+00'];
  // Kathmandu is +05:45 and St John's -03:30 (or -02:30): offsets with minutes.
  const zones = ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Europe/Berlin', 'Asia/Kathmandu'];
  for (const [i, zone] of zones.entries()) {
    const url = new URL(PG_URL);
    url.searchParams.set('options', `-c TimeZone=${zone}`);
    const backend = new PostgresBackend({ connectionString: url.toString(), schema, poolSize: 1 });
    backends.push(backend);
    const s = backend.storage(`tz-${i}`);
    for (const instant of instants) {
      const id = await enqueueJob(s, 'q');
      await client.query(`UPDATE ${schema}.jobs SET created_at = $1::timestamptz WHERE id = $2`, [instant, id]);
      t.is((await s.jobs.get(id)).createdAt.getTime(), (pgParse(instant) as Date).getTime(), `${instant} read in ${zone}`);
    }
  }
  const kathmandu = new pg.Client({ connectionString: PG_URL, options: '-c TimeZone=Asia/Kathmandu' });
  await kathmandu.connect();
  const text = (await kathmandu.query<{ t: string }>("SELECT '2026-12-06 19:50:12.5+00'::timestamptz::text AS t")).rows[0]!.t;
  await kathmandu.end();
  t.is(text, '2026-12-07 01:35:12.5+05:45', 'the shape the fast path reads');
  t.is(parseIsoTimestamptz(text)!.toISOString(), '2026-12-06T19:50:12.500Z');
  // A caller's own types win: here every timestamptz reads as the epoch.
  const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 1184 ? () => new Date(0) : pg.types.getTypeParser(oid, format)) };
  const own = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 1, pool: { types } as pg.PoolConfig });
  backends.push(own);
  const s = own.storage('own-types');
  t.is((await s.jobs.get(await enqueueJob(s, 'q'))).createdAt.getTime(), 0);
});
