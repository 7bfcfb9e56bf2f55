import { readFile } from 'node:fs/promises';
import { AvatarError } from '../core/errors.js';
import { figuresOf, type EvalReport, type GoldOutcome } from './result.js';

/**
 * One gold figure: the value a run is held to and how far it may stray. The allowed
 * deviation is the larger of `tolerance` (absolute, in the metric's unit) and `relative`
 * times |expected|; with `bound: 'upper'` only a rise beyond it fails (a slowdown, say).
 */
export interface GoldFigure {
  readonly expected: number;
  readonly tolerance: number;
  readonly relative?: number;
  readonly bound?: 'upper';
}

/** Expected figures with tolerances, per scenario: what a run is held to. */
export interface GoldFile {
  readonly format: 'realtime-avatar-gold/1';
  readonly suite: string;
  readonly createdAt: string;
  /** scenario id -> metric -> expected value and allowed deviation. */
  readonly scenarios: Record<string, Record<string, GoldFigure>>;
}

/**
 * Figures kept in gold files and their default allowances. Relative allowances hold small
 * figures to their scale (a stillness ratio of 0.02 that triples fails); absolute ones
 * floor them where measurement noise is absolute (offsets, in ms). The real-time factor
 * depends on the machine, so it is gated loosely and upwards only: over 4x the gold
 * figure (a 5x slowdown) fails; finer latency tracking is `--compare`'s job on one machine.
 */
export const GOLD_TOLERANCES: Record<string, Omit<GoldFigure, 'expected'>> = {
  offsetMs: { tolerance: 20 },
  confidence: { tolerance: 0.05, relative: 0.2 },
  stillnessRatio: { tolerance: 0.01, relative: 0.5 },
  openAgreement: { tolerance: 0.03 },
  f0MeanHz: { tolerance: 3, relative: 0.05 },
  f0RangeSemitones: { tolerance: 1, relative: 0.25 },
  avDurationDiffMs: { tolerance: 45 },
  audioS: { tolerance: 0.1, relative: 0.02 },
  driftMs: { tolerance: 25 },
  realtimeFactor: { tolerance: 0, relative: 3, bound: 'upper' },
};

/** How far `actual` may stray from a gold figure. */
export function allowedDeviation(figure: Omit<GoldFigure, 'bound'>): number {
  return Math.max(figure.tolerance, (figure.relative ?? 0) * Math.abs(figure.expected));
}

/** Whether `actual` is within a gold figure's allowance. */
export function withinGold(figure: GoldFigure, actual: number): boolean {
  const allowed = allowedDeviation(figure);
  return figure.bound === 'upper' ? actual <= figure.expected + allowed : Math.abs(actual - figure.expected) <= allowed;
}

/** A gold file holding the figures of `report` with the default tolerances. */
export function goldFromReport(report: EvalReport): GoldFile {
  const scenarios: GoldFile['scenarios'] = {};
  for (const r of report.scenarios) {
    if (r.status !== 'passed' && r.status !== 'failed') continue;
    const figures = figuresOf(r);
    const entry: Record<string, GoldFigure> = {};
    for (const [metric, allowance] of Object.entries(GOLD_TOLERANCES)) {
      const v = figures[metric];
      if (v !== undefined && Number.isFinite(v)) entry[metric] = { expected: Math.round(v * 1000) / 1000, ...allowance };
    }
    scenarios[r.id] = entry;
  }
  return { format: 'realtime-avatar-gold/1', suite: report.suite, createdAt: report.createdAt, scenarios };
}

/** Reads and checks a gold file. */
export async function loadGold(path: string): Promise<GoldFile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AvatarError('invalid_input', `cannot read gold file ${path}: ${code ?? (e as Error).message}`);
  }
  const g = json as Partial<GoldFile>;
  if (g.format !== 'realtime-avatar-gold/1' || typeof g.scenarios !== 'object' || g.scenarios === null) {
    throw new AvatarError('invalid_input', `${path} is not a gold file (format realtime-avatar-gold/1)`);
  }
  for (const [id, metrics] of Object.entries(g.scenarios)) {
    for (const [m, v] of Object.entries(metrics)) {
      if (typeof v?.expected !== 'number' || typeof v?.tolerance !== 'number') {
        throw new AvatarError('invalid_input', `gold file ${path}: ${id}.${m} needs numeric "expected" and "tolerance"`);
      }
      if ((v.relative !== undefined && typeof v.relative !== 'number') || (v.bound !== undefined && v.bound !== 'upper')) {
        throw new AvatarError('invalid_input', `gold file ${path}: ${id}.${m}: "relative" must be a number and "bound" "upper" when given`);
      }
    }
  }
  return g as GoldFile;
}

/**
 * Holds a run to the gold figures. Every gold scenario must have run here: one that was
 * skipped (an avatar missing or broken), errored or is absent from the run fails the gate,
 * with the reason, as does one that ran but lacks a figure.
 */
export function compareWithGold(report: EvalReport, gold: GoldFile): GoldOutcome[] {
  const outcomes: GoldOutcome[] = [];
  for (const [id, metrics] of Object.entries(gold.scenarios)) {
    const r = report.scenarios.find((s) => s.id === id);
    if (!r || r.status === 'skipped' || r.status === 'error') {
      const reason = !r ? 'not in this run' : `${r.status}: ${r.reason ?? 'no reason given'}`;
      outcomes.push({ scenario: id, metric: 'status', expected: 1, tolerance: 0, actual: null, passed: false, reason });
      continue;
    }
    const figures = figuresOf(r);
    for (const [metric, figure] of Object.entries(metrics)) {
      const actual = figures[metric] ?? null;
      outcomes.push({
        scenario: id, metric, expected: figure.expected, tolerance: allowedDeviation(figure), ...(figure.bound ? { bound: figure.bound } : {}),
        actual, passed: actual !== null && withinGold(figure, actual),
      });
    }
  }
  return outcomes;
}
