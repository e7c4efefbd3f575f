import { html, type SafeHtml } from './html.js';

export interface PageContext {
  /** The mount path, '' at the root: every link starts with it. */
  base: string;
  csrf: string;
  /** Actions are enabled (an authorize hook was given). */
  actions: boolean;
  /** The one tenant a tenant-scoped dashboard shows, or null. */
  scope: string | null;
  refreshMs: number;
}

export function page(ctx: PageContext, title: string, body: SafeHtml): SafeHtml {
  const nav =
    ctx.scope === null
      ? [
          ['/', 'Overview'],
          ['/tenants', 'Tenants'],
          ['/servers', 'Servers'],
          ['/placement', 'Placement'],
        ]
      : [[`/tenants/${encodeURIComponent(ctx.scope)}`, `Tenant ${ctx.scope}`]];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · jobshard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ctx.base}/assets/dashboard.css">
<script src="${ctx.base}/assets/dashboard.js" defer></script>
</head>
<body data-refresh-ms="${ctx.refreshMs}">
<header>
  <a class="brand" href="${ctx.base}/">jobshard</a>
  <nav>${nav.map(([href, label]) => html`<a href="${ctx.base}${href}">${label}</a>`)}</nav>
</header>
${ctx.actions ? '' : html`<p class="banner" id="read-only">Read-only: this dashboard was given no authorize hook, so it offers no actions.</p>`}
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** A POST form with the CSRF token; rendered only when actions are enabled. */
export function actionForm(ctx: PageContext, path: string, label: string, fields: Record<string, string> = {}, className = ''): SafeHtml {
  if (!ctx.actions) return html``;
  return html`<form method="post" action="${ctx.base}${path}" class="action ${className}">
<input type="hidden" name="_csrf" value="${ctx.csrf}">
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<button type="submit">${label}</button>
</form>`;
}

export function time(d: Date | null): SafeHtml {
  if (!d) return html`<span class="muted">—</span>`;
  return html`<time datetime="${d.toISOString()}">${d.toISOString().replace('T', ' ').slice(0, 19)}</time>`;
}

/** Links to pages 1…n around the current one; `href(p)` builds a page's link. */
export function pager(pageNo: number, hasNext: boolean, href: (p: number) => string): SafeHtml {
  return html`<nav class="pager">${pageNo > 1 ? html`<a rel="prev" href="${href(pageNo - 1)}">← Previous</a>` : ''}
<span>Page ${pageNo}</span>${hasNext ? html`<a rel="next" href="${href(pageNo + 1)}">Next →</a>` : ''}</nav>`;
}
