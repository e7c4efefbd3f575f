// The dashboard's HTTP layer without a browser: pages and their figures, escaping, headers, bad
// input, actions with their authorization and CSRF checks, tenant scope, shared reads.
import test from 'ava';
import { dashboard } from '../../src/dashboard/dashboard.js';
import { JobClient } from '../../src/processing/job-client.js';
import { adminHeader, dashboardFixture, HOSTILE, serveDashboard, type DashboardFixture } from '../helpers/dashboard-fixture.js';

let f: DashboardFixture;
let open: Awaited<ReturnType<typeof serveDashboard>>; // actions enabled for x-test-admin requests
let readOnly: Awaited<ReturnType<typeof serveDashboard>>;
test.before(async () => {
  f = await dashboardFixture();
  open = await serveDashboard(f.router, { authorize: adminHeader, refreshMs: 100 });
  readOnly = await serveDashboard(f.router, { refreshMs: 100 });
});
test.after.always(async () => {
  await open?.close();
  await readOnly?.close();
  await f?.cleanup();
});

const enc = encodeURIComponent;
async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}
/** A session as a browser has one: the CSRF cookie and the token the page's forms carry. */
async function session(base: string, path: string) {
  const res = await fetch(base + path);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await res.text())?.[1];
  return { cookie, token };
}
async function post(base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}
const cell = (body: string, attr: string, key: string) => {
  const row = new RegExp(`<tr ${attr}[\\s\\S]*?</tr>`).exec(body)?.[0] ?? '';
  return Number(new RegExp(`data-k="${key}">(\\d+)<`).exec(row)?.[1]);
};

test.serial('the overview shows every shard with the queue depths and totals the monitoring API gives', async (t) => {
  const { status, body, headers } = await get(open.url, '/');
  t.is(status, 200);
  t.regex(headers.get('content-security-policy')!, /script-src 'self'/);
  const queues = await f.router.admin.queues();
  for (const shard of ['mem', 'pg', 'redis']) {
    const mine = queues.filter((q) => q.shard === shard);
    t.is(
      cell(body, `data-shard="${shard}"`, 'waiting'),
      mine.reduce((n, q) => n + q.waiting, 0),
      shard,
    );
    t.is(
      cell(body, `data-shard="${shard}"`, 'inFlight'),
      mine.reduce((n, q) => n + q.inFlight, 0),
      shard,
    );
  }
  // One succeeded and one failed job per tenant, and each tenant has its own shard.
  for (const shard of ['mem', 'pg', 'redis']) {
    t.is(cell(body, `data-shard="${shard}"`, 'succeeded'), 1);
    t.is(cell(body, `data-shard="${shard}"`, 'failed'), 1);
  }
  t.is(Number(/id="tenants-total">(\d+)</.exec(body)![1]), 3, 'the split tenant counts once');
  t.regex(body, /<svg[^>]*aria-label="Realtime \(jobs\/s\)"/);
  t.regex(body, /<svg[^>]*aria-label="Last 24 hours \(jobs\/hour\)"/);
});

test.serial('the tenants page lists each tenant with its placement and the counts the monitoring API gives; search and paging work', async (t) => {
  const { status, body } = await get(open.url, '/tenants');
  t.is(status, 200);
  const counts = await f.router.admin.tenantCounts(Object.values(f.tenants));
  for (const [kind, tenant] of Object.entries(f.tenants)) {
    const row = new RegExp(`<tr data-tenant="${tenant}">[\\s\\S]*?</tr>`).exec(body)?.[0];
    t.truthy(row, tenant);
    t.true(row!.includes(`<td>${kind === 'redis' ? 'redis' : kind}</td>`), `home shard of ${tenant}`);
    for (const state of ['Enqueued', 'Scheduled', 'Succeeded', 'Failed']) {
      t.is(Number(new RegExp(`data-state="${state}">(\\d+)<`).exec(row!)![1]), counts[tenant]![state] ?? 0, `${tenant} ${state}`);
    }
  }
  t.regex(body, new RegExp(`<tr data-tenant="${f.tenants.pg}">[\\s\\S]*?heavy → redis`));
  const found = await get(open.url, `/tenants?q=${f.tenants.redis.slice(3)}`);
  t.deepEqual(
    [...found.body.matchAll(/<tr data-tenant="([^"]+)"/g)].map((m) => m[1]),
    [f.tenants.redis],
  );
  const paged = await get(open.url, '/tenants?size=1&page=2');
  t.is([...paged.body.matchAll(/<tr data-tenant=/g)].length, 1);
  t.regex(paged.body, /rel="prev"/);
});

test.serial('a tenant page shows its queues, counts, pauses and recurring jobs', async (t) => {
  const tenant = f.tenants.pg;
  await new JobClient(f.router.tenant(tenant)).addRecurring('nightly', '0 3 * * *', 'ok', ['<b>night</b>']);
  const { status, body } = await get(open.url, `/tenants/${tenant}`);
  t.is(status, 200);
  t.regex(body, /id="home-shard">pg</);
  for (const q of await f.router.admin.queues([tenant])) t.is(cell(body, `data-queue="${q.name}"`, 'waiting'), q.waiting, q.name);
  t.regex(body, /<tr data-queue="big">[\s\S]*?redis <span class="tag">heavy/);
  t.regex(body, /<tr data-recurring="nightly">[\s\S]*?0 3 \* \* \*/);
  t.false(body.includes('<b>night</b>'));
});

test.serial("jobs by state list each state's jobs across a split tenant's units, newest first, paged", async (t) => {
  const tenant = f.tenants.pg;
  const jobs = f.jobs[tenant]!;
  const ids = async (state: string, extra = '') =>
    [...(await get(open.url, `/tenants/${tenant}/jobs?state=${state}${extra}`)).body.matchAll(/<tr data-job="([^"]+)"/g)].map((m) => m[1]);
  t.deepEqual(await ids('Succeeded'), [jobs.succeeded]);
  t.deepEqual(await ids('Failed'), [jobs.failed]);
  t.deepEqual(await ids('Scheduled'), [jobs.scheduled]);
  const enqueued = (await f.router.tenant(tenant).monitoring.jobsInState('Enqueued')).map((j) => j.id);
  t.deepEqual(await ids('Enqueued'), enqueued);
  t.deepEqual([...enqueued].sort(), [jobs.waiting, jobs.heavy].sort(), 'the group on another shard is listed too');
  t.deepEqual(await ids('Enqueued', '&size=1&page=2'), [enqueued[1]]);
  t.deepEqual(await ids('Processing'), []);
});

test.serial('a job page shows type, arguments, parameters and the whole history with the exception, escaped', async (t) => {
  const tenant = f.tenants.redis;
  const id = f.jobs[tenant]!.failed;
  const { status, body } = await get(open.url, `/tenants/${tenant}/job/${enc(id)}`);
  t.is(status, 200);
  t.regex(body, /id="job-type">boom</);
  t.regex(body, /id="job-state">Failed</);
  const { history } = await f.router.tenant(tenant).monitoring.jobDetails(id);
  t.deepEqual(
    [...body.matchAll(/<li class="state-(\w+)">/g)].map((m) => m[1]),
    history.map((s) => s.name).reverse(),
  );
  t.regex(body, /Error: failed on &lt;script&gt;alert\(&quot;xss-1&quot;\)&lt;\/script&gt;\n\s+at /, 'the stack, escaped');
  for (const h of HOSTILE) t.false(body.includes(h), h);
  t.true(body.includes('&lt;script&gt;alert(&quot;xss-1&quot;)&lt;/script&gt;'));
});

test.serial('no page holds an inline script or a raw hostile value', async (t) => {
  const tenant = f.tenants.mem;
  const paths = [
    '/',
    '/tenants',
    '/servers',
    '/placement',
    `/tenants/${tenant}`,
    `/tenants/${tenant}/jobs?state=Failed`,
    `/tenants/${tenant}/jobs?state=Enqueued`,
    `/tenants/${tenant}/job/${enc(f.jobs[tenant]!.failed)}`,
    `/tenants/${tenant}/job/${enc(f.jobs[tenant]!.waiting)}`,
  ];
  for (const path of paths) {
    const { status, body } = await get(open.url, path);
    t.is(status, 200, path);
    for (const tag of body.match(/<script[^>]*>[\s\S]*?<\/script>/g) ?? []) t.regex(tag, /^<script src="[^"]+" defer><\/script>$/, path);
    // Escaped text holds no '<': every '<' opens a tag of the dashboard's own.
    for (const tag of body.match(/<[a-z][^>]*>/gi) ?? []) t.false(/\son\w+\s*=/i.test(tag), `${path}: event handler attribute in ${tag}`);
    for (const h of HOSTILE) t.false(body.includes(h), `${path}: ${h}`);
    t.false(/ style=/.test(body), `${path}: no inline style`);
  }
});

test.serial('bad query parameters and paths get 400 or 404 pages, not a crash', async (t) => {
  const tenant = f.tenants.mem;
  const cases: Array<[string, number]> = [
    ['/tenants?page=-1', 400],
    ['/tenants?page=0', 400],
    ['/tenants?page=abc', 400],
    ['/tenants?page=1.5', 400],
    ['/tenants?size=100000', 400],
    ['/tenants?size=0', 400],
    [`/tenants?q=${'x'.repeat(65)}`, 400],
    [`/tenants/${tenant}/jobs?state=Bogus`, 400],
    [`/tenants/${tenant}/jobs?state=`, 400],
    [`/tenants/${tenant}/jobs?state=Failed&size=201`, 400],
    [`/tenants/${tenant}/job/${enc(`${tenant}/999999`)}`, 404],
    [`/tenants/${tenant}/job/nonsense`, 404],
    ['/tenants/bad%20id', 404],
    ['/tenants/%E0%A4%A', 400],
    ['/nowhere', 404],
    ['/assets/nothing.js', 404],
    ['/tenants/x/y/z/w/v', 404],
  ];
  for (const [path, status] of cases) {
    const res = await get(open.url, path);
    t.is(res.status, status, path);
    t.regex(res.body, new RegExp(`id="error" data-status="${status}"`), path);
  }
  const put = await fetch(`${open.url}/`, { method: 'PUT' });
  t.is(put.status, 405);
  // Still serving.
  t.is((await get(open.url, '/')).status, 200);
});

test.serial('a read-only dashboard says so on every page, shows no action, and refuses every POST with 403', async (t) => {
  const tenant = f.tenants.mem;
  const id = f.jobs[tenant]!.failed;
  const page = await get(readOnly.url, `/tenants/${tenant}/job/${enc(id)}`);
  t.regex(page.body, /id="read-only"/);
  t.false(page.body.includes('method="post"'));
  const { cookie, token } = await session(open.url, '/'); // a valid token from the other dashboard does not help either
  const res = await post(readOnly.url, `/tenants/${tenant}/job/${enc(id)}/requeue`, { _csrf: token! }, { cookie, 'x-test-admin': 'yes' });
  t.is(res.status, 403);
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Failed');
});

test.serial('a POST without the CSRF token, with a wrong one, or without authorization changes nothing and gets 403', async (t) => {
  const tenant = f.tenants.redis;
  const id = f.jobs[tenant]!.succeeded;
  const path = `/tenants/${tenant}/job/${enc(id)}/delete`;
  const { cookie, token } = await session(open.url, `/tenants/${tenant}/job/${enc(id)}`);
  t.truthy(token);
  const other = await session(open.url, '/');
  const attempts: Array<[Record<string, string>, Record<string, string>]> = [
    [{}, { cookie, 'x-test-admin': 'yes' }], // no field
    [{ _csrf: token! }, { 'x-test-admin': 'yes' }], // no cookie
    [{ _csrf: token! }, { cookie: other.cookie, 'x-test-admin': 'yes' }], // another session's cookie
    [{ _csrf: `${token!.split('.')[0]}.forged` }, { cookie: `jobshard_csrf=${token!.split('.')[0]}.forged`, 'x-test-admin': 'yes' }], // unsigned pair
    [{ _csrf: token! }, { cookie }], // not authorized
  ];
  for (const [fields, headers] of attempts) {
    const res = await post(open.url, path, fields, headers);
    t.is(res.status, 403, JSON.stringify([fields, headers]));
  }
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Succeeded');
});

test.serial('requeue and delete change the job as the API shows', async (t) => {
  const tenant = f.tenants.mem;
  const client = new JobClient(f.router.tenant(tenant));
  const id = await client.enqueue('ok', ['to requeue'], { queue: 'parked' });
  await client.delete(id);
  const jobPath = `/tenants/${tenant}/job/${enc(id)}`;
  const { cookie, token } = await session(open.url, jobPath);
  const admin = { cookie, 'x-test-admin': 'yes' };
  const r1 = await post(open.url, `${jobPath}/requeue`, { _csrf: token! }, admin);
  t.is(r1.status, 303);
  t.is(r1.location, jobPath);
  const job = await f.router.tenant(tenant).monitoring.jobDetails(id);
  t.is(job.job.state, 'Enqueued');
  t.is(job.history.at(-1)!.reason, 'requeued');
  t.true((await f.router.tenant(tenant).monitoring.queueJobs('parked')).some((j) => j.id === id));
  // The page reflects it at once (an action clears the shared reads).
  t.regex((await get(open.url, jobPath)).body, /id="job-state">Enqueued</);
  const r2 = await post(open.url, `${jobPath}/delete`, { _csrf: token! }, admin);
  t.is(r2.status, 303);
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Deleted');
  // An unknown job: 404, nothing written.
  const r3 = await post(open.url, `/tenants/${tenant}/job/${enc(`${tenant}/987654`)}/requeue`, { _csrf: token! }, admin);
  t.is(r3.status, 404);
});

test.serial('pause and resume a queue and a whole tenant', async (t) => {
  const tenant = f.tenants.pg;
  const path = `/tenants/${tenant}`;
  const { cookie, token } = await session(open.url, path);
  const admin = { cookie, 'x-test-admin': 'yes' };
  t.is((await post(open.url, `${path}/pause`, { _csrf: token!, queue: 'idle' }, admin)).status, 303);
  t.deepEqual(await f.router.admin.pauses(tenant), { tenant: false, queues: ['idle'] });
  t.regex((await get(open.url, path)).body, /<tr data-queue="idle">[\s\S]*?data-k="paused">paused</);
  t.is((await post(open.url, `${path}/pause`, { _csrf: token! }, admin)).status, 303);
  t.true((await f.router.admin.pauses(tenant)).tenant);
  t.is((await post(open.url, `${path}/resume`, { _csrf: token! }, admin)).status, 303);
  t.is((await post(open.url, `${path}/resume`, { _csrf: token!, queue: 'idle' }, admin)).status, 303);
  t.deepEqual(await f.router.admin.pauses(tenant), { tenant: false, queues: [] });
  t.is((await post(open.url, `${path}/pause`, { _csrf: token!, queue: 'bad queue\u0001' }, admin)).status, 400);
  t.deepEqual(await f.router.admin.pauses(tenant), { tenant: false, queues: [] });
});

test.serial('"trigger now" enqueues a run of a recurring job and leaves its schedule alone', async (t) => {
  const tenant = f.tenants.redis;
  const client = new JobClient(f.router.tenant(tenant));
  await client.addRecurring('hourly', '0 * * * *', 'ok', ['tick'], { queue: 'cron' });
  const [before] = await client.listRecurring();
  const path = `/tenants/${tenant}`;
  const { cookie, token } = await session(open.url, path);
  const res = await post(open.url, `${path}/recurring/hourly/trigger`, { _csrf: token! }, { cookie, 'x-test-admin': 'yes' });
  t.is(res.status, 303);
  const queued = await f.router.tenant(tenant).monitoring.queueJobs('cron');
  t.is(queued.length, 1);
  t.is(queued[0]!.parameters['recurringJobId'], 'hourly');
  t.deepEqual((await client.listRecurring())[0]!.nextRunAt, before!.nextRunAt);
  const missing = await post(open.url, `${path}/recurring/nope/trigger`, { _csrf: token! }, { cookie, 'x-test-admin': 'yes' });
  t.is(missing.status, 404);
});

test.serial("bulk requeue of a queue's failed jobs asks for confirmation first, then requeues exactly those", async (t) => {
  const tenant = f.tenants.mem;
  const storage = f.router.tenant(tenant);
  const made = async (queue: string) => {
    const id = await storage.jobs.create({ type: 'boom', args: [], queue, state: { name: 'Failed', reason: 'test' } });
    return id;
  };
  const mine = await Promise.all([made('bulkq'), made('bulkq'), made('bulkq')]);
  const other = await made('otherq');
  const path = `/tenants/${tenant}/failed`;
  const { cookie, token } = await session(open.url, `/tenants/${tenant}/jobs?state=Failed`);
  const admin = { cookie, 'x-test-admin': 'yes' };
  const ask = await post(open.url, path, { _csrf: token!, queue: 'bulkq', action: 'requeue' }, admin);
  t.is(ask.status, 200);
  t.regex(ask.body, /id="bulk-count">Requeue <strong>3<\/strong>/);
  t.regex(ask.body, /name="confirm" value="yes"/);
  for (const id of mine) t.is((await storage.jobs.get(id)).state, 'Failed', 'nothing changed before the confirmation');
  const done = await post(open.url, path, { _csrf: token!, queue: 'bulkq', action: 'requeue', confirm: 'yes' }, admin);
  t.is(done.status, 303);
  for (const id of mine) t.is((await storage.jobs.get(id)).state, 'Enqueued');
  t.is((await storage.jobs.get(other)).state, 'Failed');
  t.is((await post(open.url, path, { _csrf: token!, queue: 'otherq', action: 'explode', confirm: 'yes' }, admin)).status, 400);
  t.is((await post(open.url, path, { _csrf: token!, queue: 'otherq', action: 'delete', confirm: 'yes' }, admin)).status, 303);
  t.is((await storage.jobs.get(other)).state, 'Deleted');
});

test.serial('a tenant-scoped dashboard shows its tenant only and cannot reach another tenant, whatever the URL says', async (t) => {
  const mine = f.tenants.mem;
  const theirs = f.tenants.pg;
  const scoped = await serveDashboard(f.router, { tenant: mine, authorize: adminHeader });
  try {
    t.is((await get(scoped.url, '/')).headers.get('location'), `/tenants/${mine}`);
    t.is((await get(scoped.url, '/tenants')).headers.get('location'), `/tenants/${mine}`);
    t.is((await get(scoped.url, `/tenants/${mine}`)).status, 200);
    for (const path of [
      `/tenants/${theirs}`,
      `/tenants/${theirs}/jobs?state=Failed`,
      `/tenants/${theirs}/job/${enc(f.jobs[theirs]!.failed)}`,
      '/servers',
      '/placement',
    ]) {
      const res = await get(scoped.url, path);
      t.is(res.status, 404, path);
      t.false(res.body.includes(theirs) && !res.body.includes('no such'), path);
    }
    // Their job id under my tenant's path: not found (ids carry their tenant, and my storage refuses others').
    const crossed = await get(scoped.url, `/tenants/${mine}/job/${enc(f.jobs[theirs]!.failed)}`);
    t.is(crossed.status, 404);
    t.false(crossed.body.includes('boom'));
    const { cookie, token } = await session(scoped.url, `/tenants/${mine}`);
    const res = await post(scoped.url, `/tenants/${theirs}/pause`, { _csrf: token! }, { cookie, 'x-test-admin': 'yes' });
    t.is(res.status, 404);
    t.false((await f.router.admin.pauses(theirs)).tenant);
    t.false((await get(scoped.url, `/tenants/${mine}`)).body.includes('href="/tenants"'));
  } finally {
    await scoped.close();
  }
});

test.serial('many viewers share one read per interval', async (t) => {
  const viewers = await serveDashboard(f.router, { refreshMs: 60_000 });
  try {
    const before = viewers.handler.reads.shared.reads;
    const pages = await Promise.all(Array.from({ length: 25 }, () => get(viewers.url, '/')));
    t.true(pages.every((p) => p.status === 200));
    // The overview read, and the namespaces read it shares with the tenants page: once each, not 25 times.
    t.is(viewers.handler.reads.shared.reads - before, 1 + 3);
    await Promise.all(Array.from({ length: 25 }, () => get(viewers.url, '/')));
    t.is(viewers.handler.reads.shared.reads - before, 4);
  } finally {
    await viewers.close();
  }
});

test.serial('mounted under a base path, every link and form starts with it', async (t) => {
  const mounted = await serveDashboard(f.router, { basePath: '/ops/jobs', authorize: adminHeader });
  try {
    const tenant = f.tenants.mem;
    const { body, status } = await get(mounted.url, `/ops/jobs/tenants/${tenant}`);
    t.is(status, 200);
    const links = [...body.matchAll(/(?:href|src|action)="([^"]+)"/g)].map((m) => m[1]!).filter((l) => !l.startsWith('data:'));
    t.true(links.length > 5);
    for (const l of links) t.true(l === '/ops/jobs' || l.startsWith('/ops/jobs/'), l);
    t.is((await get(mounted.url, '/ops/jobs/assets/dashboard.css')).status, 200);
  } finally {
    await mounted.close();
  }
});

test.serial('bad options are refused with a typed error', (t) => {
  for (const options of [{ tenant: 'bad id' }, { basePath: 'jobs' }, { basePath: '/a b' }, { refreshMs: 5 }, { refreshMs: 1.5 }, { authorize: 'yes' }]) {
    const err = t.throws(() => dashboard(f.router, options as never));
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT', JSON.stringify(options));
  }
});
