import type { ServerRecord } from '../../storage/servers.js';
import { html, type SafeHtml } from '../html.js';
import { serverTable } from './tenant.js';

export function serversPage(servers: Array<ServerRecord & { shard: string }>): SafeHtml {
  return html`<section data-live="servers">
<p>Servers over the router (one pool for many tenants), as each shard records them. A server of one tenant's storage is listed on that tenant's page.</p>
${serverTable(servers)}
</section>`;
}
