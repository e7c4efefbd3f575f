import { html, q, type SafeHtml } from '../html.js';
import { pager, type PageContext } from '../layout.js';
import type { TenantRow } from '../reads.js';
import { STATE_NAMES } from '../states.js';

export function tenantsPage(ctx: PageContext, search: string, pageNo: number, matched: number, rows: TenantRow[], hasNext: boolean, epoch: number): SafeHtml {
  const href = (p: number) => `${ctx.base}/tenants?q=${q(search)}&page=${p}`;
  return html`<form method="get" action="${ctx.base}/tenants" class="search">
<input type="search" name="q" value="${search}" placeholder="tenant id contains…" maxlength="64" aria-label="Search tenants">
<button type="submit">Search</button>
</form>
<section data-live="tenants">
<p><span id="tenant-count">${matched}</span> tenants${search ? html` matching “${search}”` : ''}; placement epoch ${epoch}.</p>
<table class="tenants">
<thead><tr><th>Tenant</th><th>Home shard</th><th>Groups</th>${STATE_NAMES.map((s) => html`<th class="n">${s}</th>`)}</tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr data-tenant="${r.tenant}">
<td><a href="${ctx.base}/tenants/${q(r.tenant)}">${r.tenant}</a></td><td>${r.shard}</td>
<td>${r.groups.length === 0 ? html`<span class="muted">—</span>` : r.groups.map((g) => html`<span class="tag">${g.group} → ${g.shard}</span> `)}</td>
${r.countsMissing ? html`<td colspan="${STATE_NAMES.length}" class="error">a shard of this tenant did not answer</td>` : STATE_NAMES.map((s) => html`<td class="n" data-state="${s}">${r.counts[s] ?? 0}</td>`)}
</tr>`,
)}
</tbody>
</table>
</section>
${pager(pageNo, hasNext, href)}`;
}
