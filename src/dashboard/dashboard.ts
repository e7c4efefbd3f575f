import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from '../router/router.js';
import { isJobshardError } from '../storage/errors.js';
import { DashboardActions } from './actions.js';
import { CSRF_COOKIE, CSRF_FIELD, CsrfTokens } from './csrf.js';
import { q, type SafeHtml } from './html.js';
import { DashboardHttpError, formFields, redirect, sendHtml } from './http.js';
import { page, type PageContext } from './layout.js';
import { decodeSegment, pageOf, searchOf, stateOf, tenantOfPath } from './params.js';
import { DashboardReads } from './reads.js';
import { STATE } from '../processing/states.js';
import { confirmBulkPage, errorBody } from './pages/confirm.js';
import { jobPage } from './pages/job.js';
import { jobsPage } from './pages/jobs.js';
import { overviewPage } from './pages/overview.js';
import { placementPage } from './pages/placement.js';
import { serversPage } from './pages/servers.js';
import { tenantPage } from './pages/tenant.js';
import { tenantsPage } from './pages/tenants.js';
import { checkTenantId } from '../tenancy/tenant-id.js';
import { InvalidArgumentError } from '../storage/errors.js';

/** Options of `dashboard(router, options)` (docs/dashboard.md). */
export interface DashboardOptions {
  /**
   * Decides whether a request may act (requeue, delete, trigger, pause). Without it the dashboard
   * is read-only and says so on every page. Reading is not gated here: mount the handler behind
   * your application's own authentication.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Show this tenant only: no other tenant, shard or server can be reached, whatever the URL says. */
  tenant?: string;
  /** Where the handler is mounted, e.g. '/jobs' (default: the root). Links start with it. */
  basePath?: string;
  /** How long a read is shared between viewers, and how often open pages refresh (ms). Default 2000. */
  refreshMs?: number;
  /** Signs the CSRF tokens; give dashboards behind one load balancer the same one. Default: random per process. */
  csrfSecret?: string;
}

/** The request handler `dashboard()` returns: mount it in any Node server. */
export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** The reads shared between viewers (how many ran): for tests and the bench. */
  readonly reads: DashboardReads;
};

const ASSETS: Record<string, { type: string; file: URL }> = {
  'dashboard.css': { type: 'text/css; charset=utf-8', file: new URL('./assets/dashboard.css', import.meta.url) },
  'dashboard.js': { type: 'text/javascript; charset=utf-8', file: new URL('./assets/dashboard.js', import.meta.url) },
};

/**
 * A web dashboard over every shard and tenant of a router, as a `node:http` request handler:
 * mount it in any Node server (docs/dashboard.md shows node:http, Express, Fastify and Hono).
 *
 * ```ts
 * import { createServer } from 'node:http';
 * const handler = dashboard(router, { authorize: (req) => isAdmin(req) });
 * createServer(handler).listen(8080, '127.0.0.1');
 * ```
 */
export function dashboard(router: Router, options: DashboardOptions = {}): DashboardHandler {
  if (options.authorize !== undefined && typeof options.authorize !== 'function')
    throw new InvalidArgumentError('authorize must be a function (req) => boolean');
  const scope = options.tenant === undefined ? null : checkTenantId(options.tenant);
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  if (base !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(base))
    throw new InvalidArgumentError(`basePath must look like '/jobs', got ${JSON.stringify(options.basePath)}`);
  const refreshMs = options.refreshMs ?? 2_000;
  if (!Number.isInteger(refreshMs) || refreshMs < 100 || refreshMs > 600_000)
    throw new InvalidArgumentError(`refreshMs must be a whole number of ms from 100 to 600000, got ${String(options.refreshMs)}`);
  const reads = new DashboardReads(router, refreshMs);
  const actions = new DashboardActions(router);
  const csrf = new CsrfTokens(options.csrfSecret);
  const assets = new Map(Object.entries(ASSETS).map(([name, a]) => [name, { type: a.type, body: readFileSync(a.file) }]));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    let path = url.pathname;
    if (base && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length);
    if (path === '') path = '/';
    const segments = path.split('/').slice(1);

    // Every page carries the token its forms post back; the cookie is set once and kept.
    let token = csrf.fromCookie(req);
    const cookie: Record<string, string> = {};
    if (!token) {
      token = csrf.issue();
      cookie['set-cookie'] = `${CSRF_COOKIE}=${token}; Path=${base || '/'}; HttpOnly; SameSite=Strict`;
    }
    const ctx: PageContext = { base, csrf: token, actions: options.authorize !== undefined, scope, refreshMs };
    const show = (status: number, title: string, body: SafeHtml) => sendHtml(res, status, page(ctx, title, body), cookie);

    try {
      const parts = segments.map(decodeSegment);
      if (parts[0] === 'assets' && parts.length === 2 && req.method === 'GET') {
        const asset = assets.get(parts[1]!);
        if (!asset) throw new DashboardHttpError(404, 'no such file');
        res.writeHead(200, { 'content-type': asset.type, 'x-content-type-options': 'nosniff', 'cache-control': 'max-age=300' });
        res.end(asset.body);
        return;
      }
      if (req.method === 'POST') return await post(req, res, parts, ctx);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new DashboardHttpError(405, 'the dashboard answers GET, and POST for actions');
      return await get(url.searchParams, parts, ctx, show, res);
    } catch (err) {
      const status =
        err instanceof DashboardHttpError
          ? err.status
          : isJobshardError(err)
            ? (({ JOB_NOT_FOUND: 404, INVALID_ARGUMENT: 400, SHARD_UNAVAILABLE: 503, LEASE_LOST: 409 } as Record<string, number>)[err.code] ?? 500)
            : 500;
      const message = status === 500 ? 'the dashboard failed to answer; see the server log' : (err as Error).message;
      if (status === 500) console.error('jobshard dashboard:', err);
      show(status, status === 404 ? 'Not found' : status === 403 ? 'Forbidden' : 'Error', errorBody(status, message));
    }
  }

  async function get(
    query: URLSearchParams,
    parts: string[],
    ctx: PageContext,
    show: (status: number, title: string, body: SafeHtml) => void,
    res: ServerResponse,
  ): Promise<void> {
    const [top, tenantSeg, sub, id, ...rest] = parts;
    if (scope !== null && (top === '' || top === 'tenants') && tenantSeg === undefined) return redirect(res, `${base}/tenants/${q(scope)}`);
    if (top === '' && parts.length === 1) return show(200, 'Overview', overviewPage(await reads.overview()));
    if (top === 'servers' && parts.length === 1 && scope === null) return show(200, 'Servers', serversPage(await reads.poolServers()));
    if (top === 'placement' && parts.length === 1 && scope === null) return show(200, 'Placement', placementPage(await reads.placement()));
    if (top === 'tenants' && tenantSeg === undefined) {
      const search = searchOf(query);
      const { page: pageNo, size, offset } = pageOf(query);
      const all = await reads.tenantIds();
      const matched = search ? all.filter((t) => t.includes(search)) : all;
      const rows = await reads.tenantRows(matched.slice(offset, offset + size));
      return show(200, 'Tenants', tenantsPage(ctx, search, pageNo, matched.length, rows, offset + size < matched.length, reads.epoch()));
    }
    if (top === 'tenants' && tenantSeg !== undefined && rest.length === 0) {
      const tenant = tenantOfPath(tenantSeg, scope);
      if (sub === undefined) {
        const [[row], pauses, queues, statistics, recurring, servers] = await Promise.all([
          reads.tenantRows([tenant]),
          reads.pauses(tenant),
          reads.queues(tenant),
          reads.statistics(tenant),
          reads.recurring(tenant),
          reads.tenantServers(tenant),
        ]);
        return show(200, `Tenant ${tenant}`, tenantPage(ctx, { row: row!, epoch: reads.epoch(), pauses, queues, statistics, recurring, servers }));
      }
      if (sub === 'jobs' && id === undefined) {
        const state = stateOf(query.get('state') ?? STATE.enqueued);
        const { page: pageNo, size, offset } = pageOf(query);
        // One more than a page tells whether a next page exists.
        const jobs = await reads.jobs(tenant, state, offset, size + 1);
        const failedQueues = state === STATE.failed ? (await reads.queues(tenant)).map((r) => r.name) : [];
        const onPage = jobs.slice(0, size);
        const queues = [...new Set([...failedQueues, ...onPage.map((j) => j.queue)])].sort();
        return show(200, `${tenant}: ${state} jobs`, jobsPage(ctx, tenant, state, pageNo, size, onPage, jobs.length > size, queues));
      }
      if (sub === 'job' && id !== undefined) {
        const { job, history } = await reads.job(tenant, id);
        return show(200, `Job ${job.id}`, jobPage(ctx, tenant, job, history));
      }
    }
    throw new DashboardHttpError(404, 'no such page');
  }

  async function post(req: IncomingMessage, res: ServerResponse, parts: string[], ctx: PageContext): Promise<void> {
    // Refused before the body is read or anything is looked up: no authorization, then no valid token.
    if (!options.authorize) throw new DashboardHttpError(403, 'this dashboard is read-only (it was given no authorize hook)');
    if (!(await options.authorize(req))) throw new DashboardHttpError(403, 'not authorized to act');
    const fields = await formFields(req);
    if (!csrf.check(req, fields.get(CSRF_FIELD) ?? undefined))
      throw new DashboardHttpError(403, 'the form is missing its CSRF token or it does not match (reload the page and try again)');
    const [top, tenantSeg, sub, id, verb, ...rest] = parts;
    if (top !== 'tenants' || tenantSeg === undefined || rest.length) throw new DashboardHttpError(404, 'no such action');
    const tenant = tenantOfPath(tenantSeg, scope);
    const tenantPath = `${base}/tenants/${q(tenant)}`;
    const done = (to: string) => {
      reads.shared.clear();
      redirect(res, to);
    };
    if (sub === 'job' && id !== undefined && (verb === 'requeue' || verb === 'delete')) {
      await actions[verb](tenant, id);
      return done(`${tenantPath}/job/${q(id)}`);
    }
    if (sub === 'recurring' && id !== undefined && verb === 'trigger') {
      await actions.trigger(tenant, id);
      return done(tenantPath);
    }
    if ((sub === 'pause' || sub === 'resume') && id === undefined) {
      await actions.pause(tenant, fields.get('queue') || null, sub === 'pause');
      return done(tenantPath);
    }
    if (sub === 'failed' && id === undefined) {
      const action = fields.get('action');
      if (action !== 'requeue' && action !== 'delete') throw new DashboardHttpError(400, "action must be 'requeue' or 'delete'");
      const queue = fields.get('queue') ?? '';
      const { ids, more } = await actions.failedOf(tenant, queue);
      if (fields.get('confirm') !== 'yes') {
        return sendHtml(res, 200, page(ctx, `${tenant}: ${action} failed jobs`, confirmBulkPage(ctx, tenant, queue, action, ids.length, more)));
      }
      await actions.bulk(tenant, ids, action);
      return done(`${tenantPath}/jobs?state=Failed`);
    }
    throw new DashboardHttpError(404, 'no such action');
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => {
      // Only a failure while writing the error page itself lands here.
      console.error('jobshard dashboard:', err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }) as DashboardHandler;
  Object.defineProperty(handler, 'reads', { value: reads });
  return handler;
}
