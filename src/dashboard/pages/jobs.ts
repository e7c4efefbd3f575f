import type { JobRecord } from '../../storage/job.js';
import { html, q, type SafeHtml } from '../html.js';
import { pager, time, type PageContext } from '../layout.js';
import { STATE_NAMES } from '../states.js';

/** Arguments as a short line: the whole JSON is on the job's page. */
export function argsPreview(args: unknown): string {
  const json = JSON.stringify(args);
  return json.length > 120 ? `${json.slice(0, 117)}…` : json;
}

export function jobsPage(
  ctx: PageContext,
  tenant: string,
  state: string,
  pageNo: number,
  size: number,
  jobs: JobRecord[],
  hasNext: boolean,
  failedQueues: string[],
): SafeHtml {
  const base = `${ctx.base}/tenants/${q(tenant)}`;
  return html`<ul class="states">${STATE_NAMES.map((s) => html`<li${s === state ? html` class="current"` : ''}><a href="${base}/jobs?state=${s}">${s}</a></li>`)}</ul>
${
  state === 'Failed' && ctx.actions && failedQueues.length > 0
    ? html`<form method="post" action="${base}/failed" class="bulk">
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<label>Every failed job of queue <select name="queue">${failedQueues.map((name) => html`<option value="${name}">${name}</option>`)}</select></label>
<button type="submit" name="action" value="requeue">Requeue…</button>
<button type="submit" name="action" value="delete">Delete…</button>
</form>`
    : ''
}
<section data-live="jobs">
${
  jobs.length === 0
    ? html`<p class="muted" id="no-jobs">No ${state} jobs${pageNo > 1 ? ' on this page' : ''}.</p>`
    : html`<table class="jobs">
<thead><tr><th>Id</th><th>Type</th><th>Queue</th><th>Arguments</th><th>Reason</th><th>Since</th></tr></thead>
<tbody>${jobs.map(
        (j) => html`<tr data-job="${j.id}">
<td><a href="${base}/job/${q(j.id)}">${j.id}</a></td><td>${j.type}</td><td>${j.queue}</td><td><code>${argsPreview(j.args)}</code></td><td>${j.stateReason ?? ''}</td><td>${time(j.stateAt)}</td>
</tr>`,
      )}</tbody></table>`
}
</section>
${pager(pageNo, hasNext, (p) => `${base}/jobs?state=${q(state)}&page=${p}&size=${size}`)}`;
}
