import { html, q, type SafeHtml } from '../html.js';
import type { PageContext } from '../layout.js';

export function confirmBulkPage(ctx: PageContext, tenant: string, queue: string, action: 'requeue' | 'delete', count: number, more: boolean): SafeHtml {
  const back = `${ctx.base}/tenants/${q(tenant)}/jobs?state=Failed`;
  if (count === 0) return html`<p id="bulk-count">No failed job in queue “${queue}”.</p><p><a href="${back}">Back</a></p>`;
  return html`<p id="bulk-count">${action === 'requeue' ? 'Requeue' : 'Delete'} <strong>${count}</strong> failed jobs of queue “${queue}”${more ? ' (the first of more: run it again for the rest)' : ''}?</p>
<form method="post" action="${ctx.base}/tenants/${q(tenant)}/failed" class="confirm">
<input type="hidden" name="_csrf" value="${ctx.csrf}">
<input type="hidden" name="queue" value="${queue}">
<input type="hidden" name="action" value="${action}">
<input type="hidden" name="confirm" value="yes">
<button type="submit" class="${action === 'delete' ? 'danger' : ''}">Yes, ${action} them</button>
<a href="${back}">Cancel</a>
</form>`;
}

export function errorBody(status: number, message: string): SafeHtml {
  return html`<p class="error" id="error" data-status="${status}">${message}</p>`;
}
