import type { MoveRecord } from '../../directory/directory-record.js';
import type { PublishedProgress } from '../../directory/move-progress.js';
import type { DirectoryView } from '../../router/router-admin.js';
import { SLOT_COUNT } from '../../shards/slot-table.js';
import { html, type SafeHtml } from '../html.js';
import { time } from '../layout.js';

export function placementPage(p: {
  directory: DirectoryView;
  moves: Array<MoveRecord & { progress: PublishedProgress | null }>;
  kinds: Record<string, string>;
}): SafeHtml {
  const d = p.directory;
  const pins = Object.entries(d.pins);
  const groups = Object.entries(d.groups).flatMap(([t, gs]) => Object.entries(gs).map(([g, qs]) => ({ unit: `${t}:${g}`, queues: qs })));
  return html`<section data-live="placement">
<p>Directory epoch <strong id="epoch">${d.epoch}</strong>, written ${time(new Date(d.writtenAt))}. ${SLOT_COUNT} slots.</p>
<table class="placement">
<thead><tr><th>Shard</th><th>Kind</th><th>State</th><th class="n">Weight</th><th class="n">Slots</th><th class="n">Share</th><th class="n">Pins</th></tr></thead>
<tbody>${d.shards.map(
    (s) => html`<tr data-shard="${s.id}"><td>${s.id}</td><td>${p.kinds[s.id] ?? '(not configured here)'}</td><td>${s.state}</td><td class="n">${s.weight}</td>
<td class="n" data-k="slots">${s.slots}</td><td class="n">${((100 * s.slots) / SLOT_COUNT).toFixed(1)}%</td><td class="n">${s.pins}</td></tr>`,
  )}</tbody>
</table>
<h2>Moves in progress</h2>
${
  p.moves.length === 0
    ? html`<p class="muted" id="no-moves">None.</p>`
    : html`<table class="moves">
<thead><tr><th>Unit</th><th>From</th><th>To</th><th>Phase</th><th>Since</th><th>Started</th><th class="n">Units</th><th class="n">Jobs copied</th><th class="n">Items copied</th><th>Reported</th></tr></thead>
<tbody>${p.moves.map((m) => html`<tr data-move="${m.id}"><td>${m.unit}</td><td>${m.from}</td><td>${m.to}</td><td>${m.phase}</td><td>${time(new Date(m.phaseAt))}</td><td>${time(new Date(m.startedAt))}</td>${m.progress ? html`<td class="n">${m.progress.unitsDone}/${m.progress.unitsTotal}</td><td class="n" data-k="jobsCopied">${m.progress.jobsCopied}</td><td class="n">${m.progress.itemsCopied}</td><td>${time(new Date(m.progress.at))}</td>` : html`<td colspan="4" class="muted">no progress published</td>`}</tr>`)}</tbody></table>`
}
<h2>Pins</h2>
${pins.length === 0 ? html`<p class="muted">None.</p>` : html`<ul>${pins.map(([u, s]) => html`<li><code>${u}</code> → ${s}</li>`)}</ul>`}
<h2>Queue groups</h2>
${groups.length === 0 ? html`<p class="muted">None.</p>` : html`<ul>${groups.map((g) => html`<li><code>${g.unit}</code>: ${g.queues.join(', ')}</li>`)}</ul>`}
</section>`;
}
