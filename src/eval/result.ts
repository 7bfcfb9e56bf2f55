import type { MouthTrackAgreement } from './mouth-accuracy.js';
import type { ScenarioChecks, ScenarioKind } from './scenario.js';
import type { VideoAnalysis } from './video-metrics.js';
import type { GhostFigures } from './ghost-analysis.js';

/** Latency of one scenario. Times in ms; FPS are frames per second of the stage's own time. */
export interface LatencyFigures {
  /** Time spent waiting for speech: TTS, or reading and decoding the audio for audio-driven runs. */
  readonly ttsMs: number;
  /** From the start of the run to the first frame handed to the encoder. */
  readonly firstFrameMs: number;
  readonly renderMs: number;
  readonly encodeMs: number;
  readonly totalMs: number;
  /** frames / render time. */
  readonly renderFps: number;
  /** frames / encoder wall time (the encoder runs alongside rendering). */
  readonly encodeFps: number;
  /** totalMs / audio duration: below 1 is faster than real time. */
  readonly realtimeFactor: number;
  readonly audioS: number;
  readonly frames: number;
  readonly encoder: string;
}

/** Requested against detected language, per utterance, and the voices used. */
export interface LanguageFigures {
  readonly requested: string[];
  /** The language the run used (requested, or detected for `auto`). */
  readonly used: string[];
  /** Detected from the text alone. */
  readonly detected: string[];
  readonly voices: string[];
  /** Every utterance's used language equals the detected one. */
  readonly match: boolean;
}

/** One check of a figure against its limit. */
export interface CheckOutcome {
  readonly check: keyof ScenarioChecks;
  readonly limit: number;
  /** The figure checked, or null when the scenario has no such figure (then the check does not apply). */
  readonly value: number | null;
  readonly passed: boolean | 'n/a';
}

/** Everything measured for one scenario. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** `video`: an existing video scored with `--video`. */
  readonly kind: ScenarioKind | 'video';
  readonly avatar: string;
  readonly renderer: string | undefined;
  readonly transport: string;
  readonly fps: number;
  /** `skipped`: could not run here (reason says why); `error`: the run itself failed. */
  readonly status: 'passed' | 'failed' | 'skipped' | 'error';
  readonly reason?: string;
  /** Rendered video, relative to the report folder. */
  readonly video?: string;
  readonly mouthRegion?: readonly number[];
  readonly language?: LanguageFigures;
  readonly latency?: LatencyFigures;
  readonly analysis?: Omit<VideoAnalysis, 'series' | 'probe'>;
  readonly accuracy?: MouthTrackAgreement;
  readonly checks: CheckOutcome[];
  readonly series?: VideoAnalysis['series'];
  /** Seam/ghost and colour figures against the avatar's frames (scenarios with `ghost`). */
  readonly ghost?: GhostFigures;
  /** Frame strip (PNG), relative to the report folder. */
  readonly strip?: string;
}

/** A whole evaluation run (the JSON report). */
export interface EvalReport {
  readonly format: 'realtime-avatar-eval/1';
  readonly suite: string;
  readonly suitePath: string;
  readonly createdAt: string;
  readonly machine: { readonly node: string; readonly platform: string; readonly cpus: number; readonly cpuModel: string };
  readonly durationMs: number;
  readonly passed: boolean;
  readonly scenarios: ScenarioResult[];
  /** Gold comparison, when a gold file was used. */
  readonly gold?: { readonly path: string; readonly passed: boolean; readonly outcomes: GoldOutcome[] };
}

/** One figure against its gold value. */
export interface GoldOutcome {
  readonly scenario: string;
  readonly metric: string;
  readonly expected: number;
  /** Allowed deviation from `expected` (resolved from the gold file's allowances). */
  readonly tolerance: number;
  /** `upper`: only a rise beyond the tolerance fails. */
  readonly bound?: 'upper';
  readonly actual: number | null;
  readonly passed: boolean;
  /** Why a gold scenario has no figures here (skipped, errored or not run). */
  readonly reason?: string;
}

/** The flat figures of a scenario that gold files and comparisons work on. */
export function figuresOf(r: ScenarioResult): Record<string, number | undefined> {
  const a = r.analysis;
  const l = r.latency;
  return {
    offsetMs: a?.sync.offsetMs,
    confidence: a?.sync.confidence,
    driftMs: a?.drift?.driftMs,
    stillnessRatio: a?.stillness.ratio ?? undefined,
    openAgreement: r.accuracy?.openAgreement,
    f0MeanHz: finite(a?.voice.meanHz),
    f0RangeSemitones: finite(a?.voice.rangeSemitones),
    avDurationDiffMs: a?.validity.avDurationDiffMs,
    audioS: l?.audioS,
    ttsMs: l?.ttsMs,
    firstFrameMs: l?.firstFrameMs,
    totalMs: l?.totalMs,
    renderFps: l?.renderFps,
    encodeFps: l?.encodeFps,
    realtimeFactor: l?.realtimeFactor,
    ghostMean: r.ghost?.mean,
    ghostP95: r.ghost?.p95,
  };
}

function finite(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** Applies a scenario's checks to its figures. */
export function runChecks(checks: ScenarioChecks, r: Pick<ScenarioResult, 'analysis' | 'accuracy' | 'ghost'>): CheckOutcome[] {
  const a = r.analysis;
  const values: Record<keyof ScenarioChecks, number | null> = {
    maxAbsOffsetMs: a ? Math.abs(a.sync.offsetMs) : null,
    minConfidence: a ? a.sync.confidence : null,
    maxStillnessRatio: a?.stillness.ratio ?? null,
    minOpenAgreement: r.accuracy?.openAgreement ?? null,
    maxAvDurationDiffMs: a ? Math.abs(a.validity.avDurationDiffMs) : null,
    maxAbsDriftMs: a?.drift ? Math.abs(a.drift.driftMs) : null,
    maxGhostP95: r.ghost?.p95 ?? null,
    maxChromaGain: r.ghost ? r.ghost.chroma.output - r.ghost.chroma.source : null,
  };
  return (Object.keys(checks) as (keyof ScenarioChecks)[]).map((check) => {
    const limit = checks[check]!;
    const value = values[check];
    if (value === null) return { check, limit, value, passed: 'n/a' as const };
    return { check, limit, value, passed: check.startsWith('min') ? value >= limit : value <= limit };
  });
}
