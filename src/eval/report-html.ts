import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../say.js';
import type { Comparison } from './compare.js';
import type { EvalReport, ScenarioResult } from './result.js';
import { barsSvg, esc, linesSvg, offsetBandSvg } from './svg-plots.js';

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.passed{color:#137333}.failed,.error,.reg{color:#b3261e;font-weight:600}
.skipped{color:#8a6d00}h2{margin-top:28px;border-bottom:1px solid #eee}section{margin-bottom:20px}code{background:#f5f5f5;padding:0 3px}`;

const f = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** The report as one self-contained HTML page: tables, inline SVG plots, no scripts. */
export function reportHtml(report: EvalReport): string {
  const ran = report.scenarios.filter((s) => s.analysis);
  const summary = report.scenarios.map((s) => `<tr><td><a href="#${esc(s.id)}">${esc(s.id)}</a></td><td>${esc(s.kind)}</td><td>${esc(s.avatar)} / ${esc(s.renderer ?? '?')}</td><td class="${s.status}">${s.status}</td>
<td>${f(s.analysis?.sync.offsetMs)}</td><td>${f(s.analysis?.sync.confidence, 2)}</td><td>${f(s.analysis?.stillness.ratio, 3)}</td><td>${s.accuracy ? f(s.accuracy.openAgreement * 100) : '–'}</td>
<td>${f(s.analysis?.voice.meanHz, 0)}</td><td>${f(s.latency?.firstFrameMs, 0)}</td><td>${f(s.latency?.totalMs, 0)}</td><td>${f(s.latency?.realtimeFactor, 3)}</td><td>${f(s.ghost?.p95, 2)}</td><td>${esc(s.reason ?? '')}</td></tr>`).join('');
  const gold = report.gold
    ? `<h2>Gold set: <span class="${report.gold.passed ? 'passed' : 'failed'}">${report.gold.passed ? 'within tolerance' : 'out of tolerance'}</span></h2><p><code>${esc(report.gold.path)}</code></p>
<table><tr><th>scenario</th><th>metric</th><th>expected</th><th>tolerance</th><th>actual</th><th></th></tr>${report.gold.outcomes.map((o) => `<tr><td>${esc(o.scenario)}</td><td>${esc(o.metric)}</td><td>${f(o.expected, 3)}</td><td>${o.bound === 'upper' ? '+' : '±'}${f(o.tolerance, 3)}</td><td>${o.reason ? esc(o.reason) : f(o.actual, 3)}</td><td class="${o.passed ? 'passed' : 'failed'}">${o.passed ? 'ok' : 'OUT'}</td></tr>`).join('')}</table>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>avatar eval: ${esc(report.suite)}</title><style>${STYLE}</style></head><body>
<h1>avatar eval: suite <code>${esc(report.suite)}</code> <span class="${report.passed ? 'passed' : 'failed'}">${report.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p>${esc(report.createdAt)} · ${esc(report.machine.cpuModel)} × ${report.machine.cpus} · Node ${esc(report.machine.node)} · ${(report.durationMs / 1000).toFixed(1)} s. Metric definitions: docs/eval-metrics.md.</p>
<table><tr><th>scenario</th><th>kind</th><th>avatar / renderer</th><th>status</th><th>offset ms</th><th>confidence</th><th>stillness ratio</th><th>accuracy %</th><th>F0 Hz</th><th>first frame ms</th><th>total ms</th><th>RTF</th><th>ghost p95</th><th>reason</th></tr>${summary}</table>
<h2>A/V offsets against ITU-R BT.1359</h2>${offsetBandSvg(ran.map((s) => ({ label: s.id, offsetMs: s.analysis!.sync.offsetMs, color: s.status === 'passed' ? '#1f5fbf' : '#b3261e' })))}
<h2>Latency</h2>${barsSvg(ran.map((s) => ({ label: s.id, values: [s.latency?.ttsMs ?? null, s.latency?.firstFrameMs ?? null, s.latency?.totalMs ?? null] })), [{ label: 'TTS ms', color: '#8e44ad' }, { label: 'first frame ms', color: '#e67e22' }, { label: 'total ms', color: '#2c7fb8' }])}
${barsSvg(ran.map((s) => ({ label: s.id, values: [s.latency?.renderFps ?? null, s.latency?.encodeFps ?? null] })), [{ label: 'render FPS', color: '#27ae60' }, { label: 'encode FPS', color: '#7f8c8d' }])}
${gold}
<h2>Scenarios</h2>${report.scenarios.map(scenarioSection).join('')}
</body></html>
`;
}

function scenarioSection(s: ScenarioResult): string {
  const head = `<section id="${esc(s.id)}"><h3>${esc(s.id)} <span class="${s.status}">${s.status}</span></h3><p>${esc(s.title)} · ${esc(s.kind)} · avatar ${esc(s.avatar)} (${esc(s.renderer ?? '?')}) · transport ${esc(s.transport)} · ${s.fps} fps${s.video ? ` · <a href="${esc(s.video)}">${esc(s.video)}</a>` : ''}</p>`;
  if (!s.analysis) return `${head}<p class="${s.status}">${esc(s.reason ?? '')}</p></section>`;
  const strip = s.strip ? `<p><a href="${esc(s.strip)}"><img src="${esc(s.strip)}" alt="frames of ${esc(s.id)}" style="max-width:100%"></a></p>` : '';
  const a = s.analysis;
  const l = s.latency;
  const rows: [string, string][] = [
    ['A/V offset (ms, + = audio early)', `${f(a.sync.offsetMs)} (${a.sync.verdict}); onset estimate ${f(a.sync.onsetOffsetMs)}${a.sync.agree ? '' : ' — disagrees'}`],
    ['confidence / peak correlation', `${f(a.sync.confidence, 2)} / ${f(a.sync.peakCorrelation, 2)}`],
    ['drift first→last 10 s (ms)', a.drift ? `${f(a.drift.driftMs)} (${f(a.drift.firstMs)} → ${f(a.drift.lastMs)})` : 'video under 20 s'],
    ['stillness ratio (silent/speech motion)', `${f(a.stillness.ratio, 3)} (${f(a.stillness.silentMotion, 2)} / ${f(a.stillness.speechMotion, 2)}; ${a.stillness.silentFrames} silent frames)`],
    ['mouth-track agreement (offline / streaming / speech gate)', s.accuracy ? `${f(s.accuracy.openAgreement * 100)}% / ${f(s.accuracy.openAgreementStreaming * 100)}% / ${f(s.accuracy.speakingAgreement * 100)}%` : 'n/a (no TTS reference)'],
    ['language requested / used / detected; voice', s.language ? `${s.language.requested.join('→')} / ${s.language.used.join('→')} / ${s.language.detected.join('→')}${s.language.match ? '' : ' (mismatch)'}; ${s.language.voices.join(', ')}` : 'n/a'],
    ['F0 mean, 5–95% range', `${f(a.voice.meanHz, 0)} Hz, ${f(a.voice.lowHz, 0)}–${f(a.voice.highHz, 0)} Hz (${f(a.voice.rangeSemitones)} st)`],
    ['seam/ghost score mean / 95th pct / worst (frame)', s.ghost ? `${f(s.ghost.mean, 2)} / ${f(s.ghost.p95, 2)} / ${f(s.ghost.worst, 2)} (${s.ghost.worstFrame})` : 'not measured'],
    ['lower-face chroma output / avatar (99th pct)', s.ghost ? `${f(s.ghost.chroma.output, 0)} / ${f(s.ghost.chroma.source, 0)}` : 'not measured'],
    ['mouth box (x, y, w, h)', s.mouthRegion ? s.mouthRegion.join(', ') : '–'],
    ['streams; video / audio ms; A/V diff', `${esc(a.validity.videoCodec ?? '?')} + ${esc(a.validity.audioCodec ?? '?')}; ${f(a.validity.videoMs, 0)} / ${f(a.validity.audioMs, 0)}; ${f(a.validity.avDurationDiffMs)} ms`],
    ...(l ? [
      ['latency: TTS / first frame / total ms', `${f(l.ttsMs, 0)} / ${f(l.firstFrameMs, 0)} / ${f(l.totalMs, 0)}`],
      ['render / encode FPS; real-time factor', `${f(l.renderFps, 0)} / ${f(l.encodeFps, 0)}; ${f(l.realtimeFactor, 3)} (${f(l.audioS, 2)} s, ${l.frames} frames, ${esc(l.encoder)})`],
    ] satisfies [string, string][] : []),
  ];
  const checks = s.checks.map((c) => `<tr><td>${c.check}</td><td>${f(c.limit, 3)}</td><td>${f(c.value, 3)}</td><td class="${c.passed === false ? 'failed' : 'passed'}">${c.passed === 'n/a' ? 'n/a' : c.passed ? 'ok' : 'FAIL'}</td></tr>`).join('');
  const plot = s.series
    ? linesSvg([{ label: 'audio loudness', color: '#2c7fb8', values: s.series.envelope }, { label: 'mouth activity', color: '#d95f02', values: s.series.activity }], { xScale: 1 / s.fps, xLabel: 's' })
      + linesSvg([{ label: 'correlation vs offset (−600…+600 ms)', color: '#444', values: s.series.correlations.map((c) => Math.max(0, c)) }], { height: 90 })
    : '';
  return `${head}${strip}<table>${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
<table><tr><th>check</th><th>limit</th><th>value</th><th></th></tr>${checks}</table>${plot}</section>`;
}

/** The comparison of two runs as a self-contained HTML page. */
export function comparisonHtml(c: Comparison): string {
  const offsets = c.rows.filter((r) => r.metric === 'offsetMs');
  const points = offsets.flatMap((r) => [
    ...(r.before !== null ? [{ label: `${r.scenario} (before)`, offsetMs: r.before, color: '#999' }] : []),
    ...(r.after !== null ? [{ label: `${r.scenario} (after)`, offsetMs: r.after, color: r.regression ? '#b3261e' : '#1f5fbf' }] : []),
  ]);
  const rows = c.rows.map((r) => `<tr class="${r.regression ? 'reg' : ''}"><td>${esc(r.scenario)}</td><td>${esc(r.metric)}</td><td>${f(r.before, 3)}</td><td>${f(r.after, 3)}</td><td>${f(r.delta, 3)}</td><td>${esc(r.regression ?? '')}</td></tr>`).join('');
  const latency = barsSvg([...new Set(c.rows.map((r) => r.scenario))].map((id) => {
    const row = c.rows.find((r) => r.scenario === id && r.metric === 'totalMs');
    return { label: id, values: [row?.before ?? null, row?.after ?? null] };
  }), [{ label: 'total ms before', color: '#999' }, { label: 'total ms after', color: '#2c7fb8' }]);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>avatar eval: comparison</title><style>${STYLE}</style></head><body>
<h1>avatar eval: comparison <span class="${c.regressions ? 'failed' : 'passed'}">${c.regressions ? `${c.regressions} regression(s)` : 'no regressions'}</span></h1>
<p>before: <code>${esc(c.before.path)}</code> (${esc(c.before.suite)}, ${esc(c.before.createdAt)})<br>after: <code>${esc(c.after.path)}</code> (${esc(c.after.suite)}, ${esc(c.after.createdAt)})</p>
${c.statusRegressions.length ? `<ul>${c.statusRegressions.map((s) => `<li class="reg">${esc(s)}</li>`).join('')}</ul>` : ''}
<h2>Offsets</h2>${offsetBandSvg(points)}<h2>Total time</h2>${latency}
<h2>All figures</h2><table><tr><th>scenario</th><th>metric</th><th>before</th><th>after</th><th>delta</th><th>regression</th></tr>${rows}</table></body></html>
`;
}

/** Writes `report.json` and `index.html` into `dir` (created if needed). */
export async function writeReport(dir: string, report: EvalReport): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'index.html');
  await writeFileAtomic(json, Buffer.from(`${JSON.stringify(report, null, 1)}\n`));
  await writeFileAtomic(html, Buffer.from(reportHtml(report)));
  return { json, html };
}

/** Writes `compare.html` into `dir`. */
export async function writeComparison(dir: string, c: Comparison): Promise<string> {
  await mkdir(dir, { recursive: true });
  const html = join(dir, 'compare.html');
  await writeFile(html, comparisonHtml(c));
  return html;
}
