import { formatNumber, lineChart } from '../chart.js';
import { html, type SafeHtml } from '../html.js';
import type { Overview } from '../reads.js';

const rate = (n: number | null) => (n === null ? html`<span class="muted">…</span>` : formatNumber(n));

export function overviewPage(o: Overview): SafeHtml {
  const total = (k: 'waiting' | 'inFlight') => o.shards.reduce((n, s) => n + s[k], 0);
  return html`<section data-live="overview">
<table class="shards">
<thead><tr><th>Shard</th><th>Kind</th><th>Circuit</th><th class="n">Tenants</th><th class="n">Waiting</th><th class="n">In flight</th><th class="n">Succeeded/s</th><th class="n">Failed/s</th><th class="n">Succeeded</th><th class="n">Failed</th></tr></thead>
<tbody>
${o.shards.map(
  (s) => html`<tr data-shard="${s.id}" class="${s.circuit === 'closed' && !s.readError ? '' : 'unhealthy'}">
<td>${s.id}</td><td>${s.kind}</td>
<td><span class="circuit ${s.circuit}">${s.circuit}</span>${s.readError ? html`<div class="error">${s.readError}</div>` : s.lastError ? html`<div class="muted">last error: ${s.lastError}</div>` : ''}</td>
<td class="n" data-k="tenants">${s.tenants}</td><td class="n" data-k="waiting">${s.waiting}</td><td class="n" data-k="inFlight">${s.inFlight}</td>
<td class="n">${rate(s.succeededPerSec)}</td><td class="n">${rate(s.failedPerSec)}</td>
<td class="n" data-k="succeeded">${s.succeeded}</td><td class="n" data-k="failed">${s.failed}</td>
</tr>`,
)}
</tbody>
<tfoot><tr><th colspan="3">All shards</th><th class="n" id="tenants-total">${o.tenants}</th><th class="n">${total('waiting')}</th><th class="n">${total('inFlight')}</th><th colspan="4"></th></tr></tfoot>
</table>
<div class="charts">
${lineChart(
  'Realtime (jobs/s)',
  o.live.map((p) => new Date(p.at).toISOString().slice(11, 19)),
  [
    { name: 'succeeded', className: 'ok', values: o.live.map((p) => p.succeeded) },
    { name: 'failed', className: 'bad', values: o.live.map((p) => p.failed) },
  ],
  'jobs per second, sampled while the page is open',
)}
${lineChart(
  'Last 24 hours (jobs/hour)',
  o.hours.map((h) => `${h.period.slice(11)}:00`),
  [
    { name: 'succeeded', className: 'ok', values: o.hours.map((h) => h.succeeded) },
    { name: 'failed', className: 'bad', values: o.hours.map((h) => h.failed) },
  ],
  'jobs per hour, UTC',
)}
</div>
<p class="muted">Read at ${new Date(o.at).toISOString()}.</p>
</section>`;
}
