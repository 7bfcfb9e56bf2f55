import { readFile } from 'node:fs/promises';
import { AvatarError } from '../core/errors.js';
import { figuresOf, type EvalReport, type GoldOutcome } from './result.js';

/** Expected figures with tolerances, per scenario: what a run is held to. */
export interface GoldFile {
  readonly format: 'realtime-avatar-gold/1';
  readonly suite: string;
  readonly createdAt: string;
  /** scenario id -> metric -> expected value and allowed absolute deviation. */
  readonly scenarios: Record<string, Record<string, { expected: number; tolerance: number }>>;
}

/**
 * Figures kept in gold files and their default tolerances (absolute, in the metric's unit).
 * Only figures that do not depend on the machine's speed: latency varies with load and is
 * tracked by `--compare` between runs on the same machine instead.
 */
export const GOLD_TOLERANCES: Record<string, number> = {
  offsetMs: 25,
  confidence: 0.15,
  stillnessRatio: 0.05,
  openAgreement: 0.05,
  f0MeanHz: 10,
  f0RangeSemitones: 3,
  avDurationDiffMs: 45,
  audioS: 0.25,
  driftMs: 40,
};

/** A gold file holding the figures of `report` with the default tolerances. */
export function goldFromReport(report: EvalReport): GoldFile {
  const scenarios: GoldFile['scenarios'] = {};
  for (const r of report.scenarios) {
    if (r.status !== 'passed' && r.status !== 'failed') continue;
    const figures = figuresOf(r);
    const entry: Record<string, { expected: number; tolerance: number }> = {};
    for (const [metric, tolerance] of Object.entries(GOLD_TOLERANCES)) {
      const v = figures[metric];
      if (v !== undefined) entry[metric] = { expected: Math.round(v * 1000) / 1000, tolerance };
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
    }
  }
  return g as GoldFile;
}

/**
 * Holds a run to the gold figures. A gold scenario that ran but lacks a figure fails; one
 * that was skipped here (say, an avatar not installed) is left out, as the report lists it.
 */
export function compareWithGold(report: EvalReport, gold: GoldFile): GoldOutcome[] {
  const outcomes: GoldOutcome[] = [];
  for (const [id, metrics] of Object.entries(gold.scenarios)) {
    const r = report.scenarios.find((s) => s.id === id);
    if (!r || r.status === 'skipped') continue;
    const figures = figuresOf(r);
    for (const [metric, { expected, tolerance }] of Object.entries(metrics)) {
      const actual = figures[metric] ?? null;
      outcomes.push({ scenario: id, metric, expected, tolerance, actual, passed: actual !== null && Math.abs(actual - expected) <= tolerance });
    }
  }
  return outcomes;
}
