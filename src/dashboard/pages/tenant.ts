import type { RecurringJob } from '../../processing/job-client.js';
import type { QueueInfo, Statistics } from '../../storage/monitoring.js';
import type { Pauses } from '../../storage/pauses.js';
import type { ServerRecord } from '../../storage/servers.js';
import { lineChart } from '../chart.js';
import { html, q, type SafeHtml } from '../html.js';
import { actionForm, time, type PageContext } from '../layout.js';
import type { TenantRow } from '../reads.js';
import { STATE_NAMES } from '../states.js';

export interface TenantView {
  row: TenantRow;
  epoch: number;
  pauses: Pauses;
  queues: Array<QueueInfo & { shard: string; group: string | null }>;
  statistics: Statistics;
  recurring: RecurringJob[];
  servers: ServerRecord[];
}

export function tenantPage(ctx: PageContext, v: TenantView): SafeHtml {
  const t = v.row.tenant;
  const base = `/tenants/${q(t)}`;
  return html`<section class="placement-of">
<p>Home shard <strong id="home-shard">${v.row.shard}</strong>; placement epoch ${v.epoch}.
${v.row.groups.length ? html`Queue groups: ${v.row.groups.map((g) => html`<span class="tag">${g.group} → ${g.shard}</span> `)}` : 'No queue groups.'}</p>
<p>Tenant: <span id="tenant-paused" class="${v.pauses.tenant ? 'paused' : 'running'}">${v.pauses.tenant ? 'paused' : 'running'}</span>
${v.pauses.tenant ? actionForm(ctx, `${base}/resume`, 'Resume tenant') : actionForm(ctx, `${base}/pause`, 'Pause tenant')}</p>
</section>
<section data-live="tenant">
<h2>Jobs by state</h2>
<ul class="states">${STATE_NAMES.map((s) => html`<li><a href="${ctx.base}${base}/jobs?state=${s}" data-state="${s}">${s} <span class="count">${v.row.counts[s] ?? 0}</span></a></li>`)}</ul>
<h2>Queues</h2>
${
  v.queues.length === 0
    ? html`<p class="muted">No queue holds a job.</p>`
    : html`<table class="queues">
<thead><tr><th>Queue</th><th>Shard</th><th class="n">Waiting</th><th class="n">In flight</th><th>State</th><th></th></tr></thead>
<tbody>${v.queues.map(
        (r) => html`<tr data-queue="${r.name}">
<td>${r.name}</td><td>${r.shard}${r.group ? html` <span class="tag">${r.group}</span>` : ''}</td><td class="n" data-k="waiting">${r.waiting}</td><td class="n" data-k="inFlight">${r.inFlight}</td>
<td class="${r.paused ? 'paused' : 'running'}" data-k="paused">${r.paused ? 'paused' : 'running'}</td>
<td>${v.pauses.queues.includes(r.name) ? actionForm(ctx, `${base}/resume`, 'Resume', { queue: r.name }) : actionForm(ctx, `${base}/pause`, 'Pause', { queue: r.name })}</td>
</tr>`,
      )}</tbody></table>`
}
<div class="charts">${lineChart(
    'Last 24 hours (jobs/hour)',
    v.statistics.perHour.map((h) => `${h.period.slice(11)}:00`),
    [
      { name: 'succeeded', className: 'ok', values: v.statistics.perHour.map((h) => h.succeeded) },
      { name: 'failed', className: 'bad', values: v.statistics.perHour.map((h) => h.failed) },
    ],
    `jobs per hour, UTC; in all: ${v.statistics.succeeded} succeeded, ${v.statistics.failed} failed, ${v.statistics.deleted} deleted`,
  )}</div>
</section>
${
  ctx.actions
    ? html`<form method="post" action="${ctx.base}${base}/pause" class="action pause-queue">
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<label>Pause queue <input name="queue" required maxlength="100" placeholder="queue name"></label> <button type="submit">Pause</button>
</form>`
    : ''
}
<h2>Recurring jobs</h2>
${
  v.recurring.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table class="recurring">
<thead><tr><th>Id</th><th>Cron</th><th>Type</th><th>Queue</th><th>Next run</th><th>Last run</th><th></th></tr></thead>
<tbody>${v.recurring.map(
        (r) => html`<tr data-recurring="${r.id}">
<td>${r.id}</td><td><code>${r.cron}</code> ${r.tz}</td><td>${r.type}</td><td>${r.queue}</td><td>${time(r.nextRunAt)}</td>
<td>${r.lastJobId ? html`<a href="${ctx.base}${base}/job/${q(r.lastJobId)}">${time(r.lastRunAt)}</a>` : time(null)}</td>
<td>${actionForm(ctx, `${base}/recurring/${q(r.id)}/trigger`, 'Trigger now')}</td>
</tr>`,
      )}</tbody></table>`
}
<h2>Servers of this tenant</h2>
${serverTable(v.servers)}`;
}

export function serverTable(servers: Array<ServerRecord & { shard?: string }>): SafeHtml {
  if (servers.length === 0) return html`<p class="muted">None registered.</p>`;
  return html`<table class="servers">
<thead><tr><th>Id</th>${servers[0]!.shard !== undefined ? html`<th>Shards</th>` : ''}<th>Queues</th><th class="n">Workers</th><th>Started</th><th>Heartbeat</th></tr></thead>
<tbody>${servers.map((s) => html`<tr data-server="${s.id}"><td>${s.id}</td>${s.shard !== undefined ? html`<td>${s.shard}</td>` : ''}<td>${s.queues.join(', ')}</td><td class="n">${s.workerCount}</td><td>${time(s.startedAt)}</td><td>${time(s.heartbeatAt)}</td></tr>`)}</tbody>
</table>`;
}
