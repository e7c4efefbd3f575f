import type { JobRecord, StateRecord } from '../../storage/job.js';
import { STATE } from '../../processing/states.js';
import { html, q, type SafeHtml } from '../html.js';
import { actionForm, time, type PageContext } from '../layout.js';

/** State data fields that hold multi-line text (a failure's stack, its message) shown as blocks. */
const BLOCK_FIELDS = /^(exception|stack|stackTrace|error|message|details)/i;

export function jobPage(ctx: PageContext, tenant: string, job: JobRecord, history: StateRecord[]): SafeHtml {
  const base = `/tenants/${q(tenant)}/job/${q(job.id)}`;
  return html`<dl class="job">
<dt>Type</dt><dd id="job-type">${job.type}</dd>
<dt>Queue</dt><dd>${job.queue}</dd>
<dt>State</dt><dd id="job-state">${job.state ?? '(none)'}</dd>
<dt>Created</dt><dd>${time(job.createdAt)}</dd>
<dt>Expires</dt><dd>${time(job.expireAt)}</dd>
</dl>
<p class="actions">
${job.state !== STATE.enqueued ? actionForm(ctx, `${base}/requeue`, 'Requeue') : ''}
${job.state !== STATE.deleted ? actionForm(ctx, `${base}/delete`, 'Delete', {}, 'danger') : ''}
</p>
<h2>Arguments</h2>
<pre id="job-args">${JSON.stringify(job.args, null, 2)}</pre>
<h2>Parameters</h2>
${Object.keys(job.parameters).length === 0 ? html`<p class="muted">None.</p>` : html`<table class="params"><tbody>${Object.entries(job.parameters).map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</tbody></table>`}
<h2>History</h2>
<ol class="history" reversed>
${[...history].reverse().map(
  (s) => html`<li class="state-${s.name}">
<strong>${s.name}</strong> ${time(s.createdAt)}${s.reason ? html` — <span class="reason">${s.reason}</span>` : ''}
${Object.entries(s.data).map(([k, v]) => (BLOCK_FIELDS.test(k) || v.includes('\n') ? html`<div class="field"><span class="k">${k}</span><pre>${v}</pre></div>` : html`<div class="field"><span class="k">${k}</span> <code>${v}</code></div>`))}
</li>`,
)}
</ol>`;
}
