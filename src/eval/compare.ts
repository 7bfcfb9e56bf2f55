import { readFile } from 'node:fs/promises';
import { AvatarError } from '../core/errors.js';
import { figuresOf, type EvalReport } from './result.js';

/** One figure of one scenario in two runs. */
export interface ComparisonRow {
  readonly scenario: string;
  readonly metric: string;
  readonly before: number | null;
  readonly after: number | null;
  readonly delta: number | null;
  /** Why the change counts as a regression; absent when it does not. */
  readonly regression?: string;
}

/** The differences between two runs. */
export interface Comparison {
  readonly before: { path: string; suite: string; createdAt: string };
  readonly after: { path: string; suite: string; createdAt: string };
  readonly rows: ComparisonRow[];
  /** Scenario-level problems: passed before and not now, or gone from the later run. */
  readonly statusRegressions: string[];
  readonly regressions: number;
}

/**
 * When a change is a regression. Quality limits are tight; latency limits are loose
 * because two runs on a shared machine easily differ by tens of percent.
 */
export const COMPARE_TOLERANCES = {
  /** |offset| grew by more than this, ms, or crossed one frame. */
  offsetMs: 20,
  confidenceDrop: 0.15,
  stillnessRise: 0.03,
  openAgreementDrop: 0.03,
  avDurationDiffMs: 40,
  driftMs: 20,
  /** The 95th-percentile seam/ghost score rose by more than this (score points). */
  ghostRise: 2,
  /** Relative change of mean F0 (the voice changed). */
  f0Relative: 0.1,
  /** Latency (total, first frame, real-time factor) grew by this factor. */
  latencyFactor: 2,
  /** Render/encode FPS fell below this share. */
  fpsShare: 0.5,
} as const;

/** Reads an evaluation report (JSON written by `avatar eval`). */
export async function loadReport(path: string): Promise<EvalReport> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AvatarError('invalid_input', `cannot read report ${path}: ${code ?? (e as Error).message}`);
  }
  const r = json as Partial<EvalReport>;
  if (r.format !== 'realtime-avatar-eval/1' || !Array.isArray(r.scenarios)) {
    throw new AvatarError('invalid_input', `${path} is not an evaluation report (format realtime-avatar-eval/1)`);
  }
  return r as EvalReport;
}

/** Compares run `after` with run `before`, scenario by scenario and figure by figure. */
export function compareReports(before: EvalReport, after: EvalReport, paths: { before: string; after: string }): Comparison {
  const rows: ComparisonRow[] = [];
  const statusRegressions: string[] = [];
  const frameMs = (fps: number) => 1000 / fps;
  for (const a of before.scenarios) {
    const b = after.scenarios.find((s) => s.id === a.id);
    if (!b) {
      if (a.status !== 'skipped') statusRegressions.push(`${a.id}: ran before (${a.status}), missing now`);
      continue;
    }
    if (a.status === 'passed' && (b.status === 'failed' || b.status === 'error')) {
      statusRegressions.push(`${a.id}: passed before, ${b.status} now${b.reason ? ` (${b.reason})` : ''}`);
    }
    const fa = figuresOf(a);
    const fb = figuresOf(b);
    for (const metric of Object.keys(fa)) {
      const x = fa[metric] ?? null;
      const y = fb[metric] ?? null;
      if (x === null && y === null) continue;
      const delta = x !== null && y !== null ? y - x : null;
      const regression = x !== null && y === null ? 'figure missing now' : x !== null && y !== null ? judge(metric, x, y, frameMs(b.fps)) : undefined;
      rows.push({ scenario: a.id, metric, before: x, after: y, delta, ...(regression ? { regression } : {}) });
    }
  }
  return {
    before: { path: paths.before, suite: before.suite, createdAt: before.createdAt },
    after: { path: paths.after, suite: after.suite, createdAt: after.createdAt },
    rows, statusRegressions,
    regressions: statusRegressions.length + rows.filter((r) => r.regression).length,
  };
}

function judge(metric: string, x: number, y: number, frameMs: number): string | undefined {
  const t = COMPARE_TOLERANCES;
  switch (metric) {
    case 'offsetMs':
      if (Math.abs(y) > frameMs && Math.abs(x) <= frameMs) return `offset now beyond one frame (${frameMs.toFixed(0)} ms)`;
      return Math.abs(y) - Math.abs(x) > t.offsetMs ? `|offset| grew by more than ${t.offsetMs} ms` : undefined;
    case 'confidence':
      return x - y > t.confidenceDrop ? `confidence fell by more than ${t.confidenceDrop}` : undefined;
    case 'stillnessRatio':
      return y - x > t.stillnessRise ? `mouth moves more in silence (ratio up by more than ${t.stillnessRise})` : undefined;
    case 'openAgreement':
      return x - y > t.openAgreementDrop ? `audio-tracker agreement fell by more than ${t.openAgreementDrop * 100} points` : undefined;
    case 'avDurationDiffMs':
      return Math.abs(y) - Math.abs(x) > t.avDurationDiffMs ? `A/V duration difference grew by more than ${t.avDurationDiffMs} ms` : undefined;
    case 'driftMs':
      return Math.abs(y) - Math.abs(x) > t.driftMs ? `drift grew by more than ${t.driftMs} ms` : undefined;
    case 'ghostP95':
      return y - x > t.ghostRise ? `seam/ghost score (95th percentile) up by more than ${t.ghostRise}` : undefined;
    case 'f0MeanHz':
      return Math.abs(y - x) > t.f0Relative * x ? `mean F0 changed by more than ${t.f0Relative * 100}%` : undefined;
    case 'totalMs':
    case 'firstFrameMs':
    case 'realtimeFactor':
      // Below 50 ms (or 0.05 x real time) differences are scheduling noise.
      return y > t.latencyFactor * x && y - x > (metric === 'realtimeFactor' ? 0.05 : 50) ? `more than ${t.latencyFactor}x slower` : undefined;
    case 'renderFps':
    case 'encodeFps':
      return y < t.fpsShare * x ? `fell below ${t.fpsShare * 100}% of before` : undefined;
    default:
      return undefined;
  }
}

/** The comparison as plain text lines for a terminal. */
export function formatComparison(c: Comparison): string {
  const lines = [`compare ${c.before.path} (${c.before.createdAt}) -> ${c.after.path} (${c.after.createdAt})`];
  for (const s of c.statusRegressions) lines.push(`REGRESSION ${s}`);
  const fmt = (v: number | null) => (v === null ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3));
  for (const r of c.rows) {
    if (r.delta === 0 && !r.regression) continue;
    lines.push(`${r.regression ? 'REGRESSION ' : '  '}${r.scenario} ${r.metric}: ${fmt(r.before)} -> ${fmt(r.after)}${r.delta !== null ? ` (${r.delta >= 0 ? '+' : ''}${fmt(r.delta)})` : ''}${r.regression ? `: ${r.regression}` : ''}`);
  }
  lines.push(c.regressions ? `${c.regressions} regression(s)` : 'no regressions');
  return `${lines.join('\n')}\n`;
}
