/** Small inline-SVG charts for self-contained HTML reports (no scripts, no network). */

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (v: number) => (Math.round(v * 10) / 10).toString();
/** A value that can be drawn: null, NaN and infinities are "not measured". */
const measured = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** A line chart of several series over the same x positions (values already scaled to about 0..1). */
export function linesSvg(series: { label: string; color: string; values: readonly number[] }[], options: { width?: number; height?: number; xLabel?: string; xScale?: number } = {}): string {
  const w = options.width ?? 720;
  const h = options.height ?? 140;
  const n = Math.max(...series.map((s) => s.values.length), 2);
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter(measured)));
  const x = (i: number) => 30 + ((w - 40) * i) / (n - 1);
  const y = (v: number) => h - 20 - ((h - 30) * v) / max;
  const paths = series.map((s) => {
    // At most ~1 point per pixel: plot the maximum of each bucket so peaks survive.
    const step = Math.max(1, Math.ceil(s.values.length / (w - 40)));
    const pts: string[] = [];
    for (let i = 0; i < s.values.length; i += step) {
      let m = -Infinity;
      for (let k = i; k < Math.min(s.values.length, i + step); k++) if (measured(s.values[k])) m = Math.max(m, s.values[k]!);
      if (m > -Infinity) pts.push(`${num(x(i))},${num(y(m))}`);
    }
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.2" points="${pts.join(' ')}"/>`;
  });
  const legend = series.map((s, i) => `<text x="${40 + i * 170}" y="12" font-size="11" fill="${s.color}">&#9632; ${esc(s.label)}</text>`).join('');
  const seconds = options.xScale ? Math.floor((n - 1) * options.xScale) : 0;
  const ticks = options.xScale
    ? Array.from({ length: Math.min(seconds, 20) + 1 }, (_, k) => Math.round((k * seconds) / Math.min(seconds || 1, 20)))
        .map((s) => `<text x="${num(x(s / options.xScale!))}" y="${h - 5}" font-size="9" text-anchor="middle" fill="#666">${s}</text>`).join('')
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect x="30" y="10" width="${w - 40}" height="${h - 30}" fill="#fafafa" stroke="#ddd"/>${paths.join('')}${legend}${ticks}${options.xLabel ? `<text x="${w - 10}" y="${h - 5}" font-size="9" text-anchor="end" fill="#666">${esc(options.xLabel)}</text>` : ''}</svg>`;
}

/** Horizontal grouped bars: one row per label, one bar per series; a value not measured (null, NaN) shows "not measured" instead of a bar. */
export function barsSvg(rows: { label: string; values: (number | null)[] }[], series: { label: string; color: string }[], options: { unit?: string; width?: number } = {}): string {
  const w = options.width ?? 720;
  const barH = 9;
  const rowH = series.length * barH + 8;
  const h = rows.length * rowH + 30;
  const max = Math.max(1e-9, ...rows.flatMap((r) => r.values.filter(measured)));
  const left = 150;
  const scale = (w - left - 70) / max;
  const body = rows.map((r, i) => {
    const top = 20 + i * rowH;
    const bars = r.values.map((v, k) => (!measured(v) ? `<text x="${left}" y="${top + k * barH + 8}" font-size="9" fill="#999">${esc(series[k]!.label)}: not measured</text>` : `<rect x="${left}" y="${top + k * barH}" width="${num(Math.max(1, v * scale))}" height="${barH - 1}" fill="${series[k]!.color}"/><text x="${num(left + v * scale + 4)}" y="${top + k * barH + 8}" font-size="9">${num(v)}${options.unit ?? ''}</text>`)).join('');
    return `<text x="${left - 6}" y="${top + rowH / 2}" font-size="11" text-anchor="end">${esc(r.label)}</text>${bars}`;
  }).join('');
  const legend = series.map((s, i) => `<text x="${left + i * 140}" y="12" font-size="11" fill="${s.color}">&#9632; ${esc(s.label)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${legend}${body}</svg>`;
}

/**
 * Offsets on an axis from -250 to +250 ms with the ITU-R BT.1359 bands shaded: detectability
 * (-125..+45 ms, green) and acceptability (-185..+90 ms, amber). Positive = audio early.
 */
export function offsetBandSvg(points: { label: string; offsetMs: number; color?: string }[], options: { width?: number } = {}): string {
  const w = options.width ?? 720;
  const rowH = 16;
  const h = points.length * rowH + 50;
  const left = 150;
  const span = 250;
  const x = (ms: number) => left + ((w - left - 20) * (Math.max(-span, Math.min(span, ms)) + span)) / (2 * span);
  const band = (a: number, b: number, color: string) => `<rect x="${num(x(a))}" y="20" width="${num(x(b) - x(a))}" height="${h - 45}" fill="${color}"/>`;
  const grid = [-250, -185, -125, -40, 0, 40, 45, 90, 250].map((ms) => `<line x1="${num(x(ms))}" x2="${num(x(ms))}" y1="20" y2="${h - 25}" stroke="#ccc" stroke-dasharray="${ms === 0 ? '' : '2,2'}"/><text x="${num(x(ms))}" y="${h - 12}" font-size="8" text-anchor="middle" fill="#666">${ms}</text>`).join('');
  const dots = points.map((p, i) => {
    const cy = 28 + i * rowH;
    return `<text x="${left - 6}" y="${cy + 4}" font-size="11" text-anchor="end">${esc(p.label)}</text><circle cx="${num(x(p.offsetMs))}" cy="${cy}" r="4" fill="${p.color ?? '#1f5fbf'}"/><text x="${num(x(p.offsetMs) + 7)}" y="${cy + 4}" font-size="9">${num(p.offsetMs)} ms</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${band(-185, 90, '#fff1d6')}${band(-125, 45, '#dff3df')}${grid}${dots}<text x="${left}" y="12" font-size="10" fill="#444">audio late &#8592; offset (ms, ITU-R BT.1359 sign) &#8594; audio early; green: undetectable, amber: acceptable; dashed at &#177;1 frame (25 fps)</text></svg>`;
}
