import { html, type SafeHtml } from './html.js';

export interface Series {
  name: string;
  /** A CSS class giving the line its colour (dashboard.css). */
  className: string;
  values: number[];
}

const W = 640;
const H = 160;
const PAD = { left: 48, right: 8, top: 10, bottom: 22 };

/** A plain SVG line chart: no script, no inline style (the page's CSP allows neither). */
export function lineChart(title: string, labels: string[], series: Series[], unit: string): SafeHtml {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const n = Math.max(2, labels.length);
  const x = (i: number) => PAD.left + (i * (W - PAD.left - PAD.right)) / (n - 1);
  const y = (v: number) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v / max);
  const path = (values: number[]) => values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return html`<figure class="chart">
  <figcaption>${title}</figcaption>
  <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${title}">
    <line class="axis" x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}"></line>
    <line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}"></line>
    <text class="tick" x="${PAD.left - 4}" y="${PAD.top + 8}" text-anchor="end">${formatNumber(max)}</text>
    <text class="tick" x="${PAD.left - 4}" y="${H - PAD.bottom}" text-anchor="end">0</text>
    <text class="tick" x="${PAD.left}" y="${H - 6}">${labels[0] ?? ''}</text>
    <text class="tick" x="${W - PAD.right}" y="${H - 6}" text-anchor="end">${labels[labels.length - 1] ?? ''}</text>
    ${series.map((s) => (s.values.length > 0 ? html`<path class="line ${s.className}" d="${path(s.values)}"><title>${s.name}</title></path>` : ''))}
  </svg>
  <p class="legend">${series.map((s) => html`<span class="key ${s.className}">${s.name}</span> `)}<span class="unit">${unit}</span></p>
</figure>`;
}

export function formatNumber(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
