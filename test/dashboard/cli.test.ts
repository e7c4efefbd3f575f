// `jobshard dashboard --config … --port …`: the standalone dashboard, as an operator starts it.
import test from 'ava';
import { type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRouterFromFile } from '../../src/router/router.js';
import { JobClient } from '../../src/processing/job-client.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { spawnGuarded } from '../helpers/child.js';

const BIN = fileURLToPath(new URL('../../bin/jobshard.js', import.meta.url));
const schema = freshSchema();
const prefix = freshPrefix();
let config: string;
const tenant = freshTenant();
let jobId: string;

test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-dash-cli-'));
  config = join(dir, 'tenants.json');
  await writeFile(
    config,
    JSON.stringify({
      shards: [
        { id: 'pg', backend: { postgres: { connectionString: PG_URL, schema, poolSize: 2 } } },
        { id: 'redis', backend: { redis: { url: REDIS_URL, prefix } } },
      ],
    }),
  );
  const router = await createRouterFromFile(config);
  jobId = await new JobClient(router.tenant(tenant)).enqueue('report.build', ['<i>q4</i>'], { queue: 'reports' });
  await router.close();
});
test.after.always(async () => {
  await dropSchema(schema);
  await deleteRedisPrefix(prefix);
});

/** Starts the command; resolves with the URL it prints once it listens. */
function start(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawnGuarded(process.execPath, [BIN, 'dashboard', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    let out = '',
      err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+?)\/? \(/.exec(out);
      if (m) resolve({ child, url: m[1]!, exited });
    });
    child.stderr!.on('data', (d) => (err += d));
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}${err}`)));
  });
}

test('serves the dashboard on 127.0.0.1, read-only without a password, and stops on SIGTERM', async (t) => {
  const { child, url, exited } = await start(['--config', config, '--port', '0']);
  try {
    t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await (await fetch(`${url}/tenants/${tenant}`)).text();
    t.regex(page, /id="read-only"/);
    t.regex(page, /<tr data-queue="reports">/);
    t.false(page.includes('<i>q4</i>'));
    const tenants = await (await fetch(`${url}/tenants`)).text();
    t.regex(tenants, new RegExp(`<tr data-tenant="${tenant}">`));
  } finally {
    child.kill('SIGTERM');
  }
  t.is(await exited, 0);
});

test('--password-env protects the dashboard and enables actions', async (t) => {
  const { child, url, exited } = await start(['--config', config, '--port', '0', '--password-env', 'DASH_PW'], { DASH_PW: 's3cret' });
  try {
    t.is((await fetch(`${url}/`)).status, 401);
    t.is((await fetch(`${url}/`, { headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` } })).status, 401);
    const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
    const res = await fetch(`${url}/tenants/${tenant}/job/${encodeURIComponent(jobId)}`, { headers: auth });
    t.is(res.status, 200);
    const body = await res.text();
    t.false(body.includes('id="read-only"'));
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(body)![1]!;
    const del = await fetch(`${url}/tenants/${tenant}/job/${encodeURIComponent(jobId)}/delete`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ _csrf: token }),
      headers: { ...auth, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.is(del.status, 303);
    const router = await createRouterFromFile(config);
    t.is((await router.tenant(tenant).jobs.get(jobId)).state, 'Deleted');
    await router.close();
  } finally {
    child.kill('SIGTERM');
  }
  t.is(await exited, 0);
});

test('bad arguments: a clear message and exit code 2, nothing served', async (t) => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawnGuarded(process.execPath, [BIN, 'dashboard', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => resolve({ code, err }));
    });
  const cases: Array<[string[], RegExp]> = [
    [[], /--config <tenant-map.json> is required/],
    [['--config', config, '--port', 'http'], /--port must be a port number/],
    [['--config', config, '--port', '70000'], /--port must be a port number/],
    [['--config', config, '--password-env', 'JOBSHARD_NO_SUCH_VAR'], /JOBSHARD_NO_SUCH_VAR: that environment variable is empty or unset/],
    [['--config', config, '--refresh-ms', 'soon'], /--refresh-ms must be a whole number/],
    [['--config', config, '--bogus'], /Unknown option '--bogus'/],
    [['--config', config, 'extra'], /takes no arguments/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await run(args);
    t.is(code, 2, args.join(' '));
    t.regex(err, message, args.join(' '));
  }
  const badTenant = await run(['--config', config, '--port', '0', '--tenant', 'no such']);
  t.is(badTenant.code, 1);
  t.regex(badTenant.err, /INVALID_ARGUMENT.*tenant id/);
});
