// The dashboard in a real browser (Debian's chromium driven by playwright-core) over memory,
// Postgres and Redis shards: figures, actions, pause, hostile values, CSRF from another page,
// tenant scope, live updates. JOBSHARD_SCREENSHOTS=<dir> saves the overview and a job page.
import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { dashboardFixture, HOSTILE, serveDashboard, type DashboardFixture } from '../helpers/dashboard-fixture.js';

const CHROMIUM = process.env.JOBSHARD_CHROMIUM ?? '/usr/bin/chromium';
// The flags this workplace's chromium needs: no sandbox as root, no calls home on a closed network.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Requests with this cookie may act: the application's own login, as far as the dashboard knows. */
const isAdmin = (req: IncomingMessage) => /(?:^|;\s*)admin=yes(?:;|$)/.test(req.headers.cookie ?? '');

let f: DashboardFixture;
let browser: Browser;
let dash: Awaited<ReturnType<typeof serveDashboard>>;
test.before(async () => {
  f = await dashboardFixture();
  dash = await serveDashboard(f.router, { authorize: isAdmin, refreshMs: 300 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
test.after.always(async () => {
  await browser?.close();
  await dash?.close();
  await f?.cleanup();
});

/** A page that fails the test on any dialog, uncaught error or console error (a CSP violation is one). */
async function watchedPage(t: { fail(msg: string): void }, admin = true): Promise<{ page: Page; context: BrowserContext; problems: string[] }> {
  const context = await browser.newContext();
  if (admin) await context.addCookies([{ name: 'admin', value: 'yes', url: dash.url }]);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  void t;
  return { page, context, problems };
}
const enc = encodeURIComponent;
const num = async (page: Page, selector: string) => Number((await page.locator(selector).first().textContent())!.trim());

test.serial('every page renders with the figures of the monitoring API, with no script error', async (t) => {
  const { page, context, problems } = await watchedPage(t);
  await page.goto(`${dash.url}/`);
  const queues = await f.router.admin.queues();
  for (const shard of ['mem', 'pg', 'redis']) {
    const waiting = queues.filter((q) => q.shard === shard).reduce((n, q) => n + q.waiting, 0);
    t.is(await num(page, `tr[data-shard="${shard}"] [data-k="waiting"]`), waiting, shard);
    t.is(await num(page, `tr[data-shard="${shard}"] [data-k="failed"]`), 1, shard);
  }
  if (process.env.JOBSHARD_SCREENSHOTS) await page.screenshot({ path: join(process.env.JOBSHARD_SCREENSHOTS, 'dashboard-overview.png'), fullPage: true });

  await page.click('header nav >> text=Tenants');
  const counts = await f.router.admin.tenantCounts(Object.values(f.tenants));
  for (const tenant of Object.values(f.tenants)) {
    t.is(await num(page, `tr[data-tenant="${tenant}"] [data-state="Enqueued"]`), counts[tenant]!['Enqueued'] ?? 0);
    t.is(await num(page, `tr[data-tenant="${tenant}"] [data-state="Failed"]`), counts[tenant]!['Failed'] ?? 0);
  }
  await page.fill('input[name=q]', f.tenants.pg);
  await page.click('form.search button');
  t.is(await page.locator('tr[data-tenant]').count(), 1);
  await page.click(`a:text("${f.tenants.pg}")`);
  t.is(await page.locator('#home-shard').textContent(), 'pg');
  for (const q of await f.router.admin.queues([f.tenants.pg])) t.is(await num(page, `tr[data-queue="${q.name}"] [data-k="waiting"]`), q.waiting);

  await page.click('ul.states a[data-state="Failed"]');
  t.is(await page.locator('tr[data-job]').count(), 1);
  await page.click(`tr[data-job] a`);
  t.is(await page.locator('#job-type').textContent(), 'boom');
  t.is(await page.locator('#job-args').textContent(), JSON.stringify(HOSTILE, null, 2), 'the arguments, shown as text');
  if (process.env.JOBSHARD_SCREENSHOTS) await page.screenshot({ path: join(process.env.JOBSHARD_SCREENSHOTS, 'dashboard-job.png'), fullPage: true });

  await page.click('header nav >> text=Placement');
  t.is(Number(await page.locator('#epoch').textContent()), (await f.router.admin.directory()).epoch);
  const slots = f.router.admin.slots().perShard;
  for (const [shard, n] of Object.entries(slots)) t.is(await num(page, `tr[data-shard="${shard}"] [data-k="slots"]`), n);
  await page.click('header nav >> text=Servers');
  t.is(await page.locator('h1').textContent(), 'Servers');
  t.deepEqual(problems, []);
  await context.close();
});

test.serial('hostile arguments and exception messages run no script on any page that shows them', async (t) => {
  const { page, context, problems } = await watchedPage(t);
  for (const tenant of Object.values(f.tenants)) {
    for (const path of [
      `/tenants/${tenant}/jobs?state=Failed`,
      `/tenants/${tenant}/jobs?state=Enqueued`,
      `/tenants/${tenant}/job/${enc(f.jobs[tenant]!.failed)}`,
      `/tenants/${tenant}/job/${enc(f.jobs[tenant]!.waiting)}`,
    ]) {
      const res = await page.goto(dash.url + path);
      t.is(res!.status(), 200, path);
      t.is(await page.locator('main img, main svg[onload], main script').count(), 0, path);
    }
  }
  // Shown as text: the failure message is on the page, verbatim.
  await page.goto(`${dash.url}/tenants/${f.tenants.mem}/job/${enc(f.jobs[f.tenants.mem]!.failed)}`);
  t.true((await page.locator('ol.history').textContent())!.includes(`failed on ${HOSTILE[0]}`));
  await page.waitForTimeout(700); // two live refreshes swap markup in: still nothing runs
  t.deepEqual(problems, []);
  await context.close();
});

test.serial('requeue and delete, clicked, change the job as the API shows', async (t) => {
  const { page, context, problems } = await watchedPage(t);
  const tenant = f.tenants.redis;
  const client = new JobClient(f.router.tenant(tenant));
  const id = await client.enqueue('ok', ['click me'], { queue: 'parked' });
  await client.delete(id);
  await page.goto(`${dash.url}/tenants/${tenant}/job/${enc(id)}`);
  await page.click('button:text("Requeue")');
  await page.waitForSelector('#job-state:text("Enqueued")');
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Enqueued');
  await page.click('button:text("Delete")');
  await page.waitForSelector('#job-state:text("Deleted")');
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Deleted');
  t.deepEqual(problems, []);
  await context.close();
});

test.serial('pause, clicked, stops a queue: a running server starts none of its jobs until resumed', async (t) => {
  const { page, context } = await watchedPage(t);
  const tenant = f.tenants.pg;
  const ran: string[] = [];
  const server = new JobServer(f.router, {
    queues: ['gated'],
    workerCount: 2,
    tenants: [tenant],
    discoveryIntervalMs: 100,
    handlers: { gated: (args) => void ran.push(String(args[0])) },
  });
  await server.start();
  try {
    const client = new JobClient(f.router.tenant(tenant));
    await client.enqueue('gated', ['first'], { queue: 'gated' });
    for (const deadline = Date.now() + 10_000; ran.length < 1 && Date.now() < deadline;) await page.waitForTimeout(50);
    t.deepEqual(ran, ['first']);
    await page.goto(`${dash.url}/tenants/${tenant}`);
    // The queue is empty now, so it has no row yet: pause it by name.
    await page.fill('form.pause-queue input[name=queue]', 'gated');
    await page.click('form.pause-queue button');
    await page.waitForSelector('tr[data-queue="gated"] [data-k="paused"]:text("paused")');
    t.deepEqual((await f.router.admin.pauses(tenant)).queues, ['gated']);
    await page.waitForTimeout(1_000); // servers see a pause within a second
    const id = await client.enqueue('gated', ['second'], { queue: 'gated' });
    await page.waitForTimeout(1_500);
    t.deepEqual(ran, ['first'], 'nothing started while paused');
    t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Enqueued');
    await page.click('tr[data-queue="gated"] button:text("Resume")');
    for (const deadline = Date.now() + 10_000; ran.length < 2 && Date.now() < deadline;) await page.waitForTimeout(50);
    t.deepEqual(ran, ['first', 'second']);
  } finally {
    await server.stop();
    await context.close();
  }
});

test.serial('a forged POST from another page (no token) and a POST without authorization change nothing and get 403', async (t) => {
  const tenant = f.tenants.mem;
  const id = f.jobs[tenant]!.succeeded;
  // The attacker's page, on another port: same site, so the browser sends the dashboard's cookies along.
  const evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<form id="f" method="post" action="${dash.url}/tenants/${tenant}/job/${enc(id)}/delete"><input name="_csrf" value="guess"></form>
<script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const { page, context } = await watchedPage(t);
  try {
    await page.goto(`${dash.url}/tenants/${tenant}`); // the victim has a session (cookie) with the dashboard
    const landed = page.waitForResponse((r) => r.url().endsWith('/delete'));
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    t.is((await landed).status(), 403);
    t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Succeeded');
  } finally {
    await context.close();
    evil.close();
  }
  // A signed-in page without the admin cookie: the button posts a valid token, authorization fails.
  const plain = await browser.newContext();
  await plain.addCookies([{ name: 'admin', value: 'yes', url: dash.url }]);
  const p = await plain.newPage();
  await p.goto(`${dash.url}/tenants/${tenant}/job/${enc(id)}`);
  await plain.clearCookies({ name: 'admin' });
  const [res] = await Promise.all([p.waitForResponse((r) => r.url().endsWith('/delete')), p.click('button:text("Delete")')]);
  t.is(res.status(), 403);
  t.is((await f.router.tenant(tenant).jobs.get(id)).state, 'Succeeded');
  await plain.close();
});

test.serial("the tenant-scoped dashboard cannot open another tenant's job by id", async (t) => {
  const scoped = await serveDashboard(f.router, { tenant: f.tenants.mem });
  const { page, context, problems } = await watchedPage(t, false);
  try {
    const theirs = f.tenants.redis;
    const direct = await page.goto(`${scoped.url}/tenants/${theirs}/job/${enc(f.jobs[theirs]!.failed)}`);
    t.is(direct!.status(), 404);
    const crossed = await page.goto(`${scoped.url}/tenants/${f.tenants.mem}/job/${enc(f.jobs[theirs]!.failed)}`);
    t.is(crossed!.status(), 404);
    t.false((await page.content()).includes('boom'));
    await page.goto(`${scoped.url}/`);
    t.is(new URL(page.url()).pathname, `/tenants/${f.tenants.mem}`);
    t.is(await page.locator('header nav a').count(), 1);
    t.is(await page.locator('#read-only').count(), 1);
    // Only the 404 documents logged errors (the browser reports a failed main request as a console error).
    t.true(
      problems.every((p) => p.includes('404')),
      problems.join('\n'),
    );
  } finally {
    await context.close();
    await scoped.close();
  }
});

test.serial('the overview updates live, without a reload', async (t) => {
  const { page, context, problems } = await watchedPage(t);
  await page.goto(`${dash.url}/`);
  const cell = 'tr[data-shard="mem"] [data-k="waiting"]';
  const before = await num(page, cell);
  await new JobClient(f.router.tenant(f.tenants.mem)).enqueue('ok', ['live'], { queue: 'livequeue' });
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel as string)?.textContent) === (n as number) + 1, [cell, before] as const, {
    timeout: 10_000,
  });
  t.is(await num(page, cell), before + 1);
  t.deepEqual(problems, []);
  await context.close();
});
