import { laggedCorrelation } from './sync-analysis.js';

/**
 * Audio/video offset in the ITU-R BT.1359 sign convention: positive when the sound comes
 * before the picture (audio early / leading), negative when it comes after (audio late).
 */
export interface AvOffset {
  /** Best offset, ms (BT.1359 sign), from the correlation of mouth activity with loudness. */
  readonly offsetMs: number;
  /** Pearson correlation at the best offset. */
  readonly peakCorrelation: number;
  /**
   * Peak correlation minus the median over all tested offsets (correlation units), halved
   * when the onset-based estimate disagrees by more than one frame.
   */
  readonly confidence: number;
  /** Independent estimate from the correlation of onsets (rises) of activity and loudness, ms. */
  readonly onsetOffsetMs: number;
  /** Whether the two estimates agree within one frame. */
  readonly agree: boolean;
  /** Tested offsets (ms, BT.1359 sign) and the combined correlation at each. */
  readonly offsetsMs: number[];
  readonly correlations: number[];
}

/** Options for measureAvOffset. */
export interface AvOffsetOptions {
  /** Search range, frames either side (default 15). */
  readonly maxLagFrames?: number;
  /** Step of the offset search, ms (default 5): finer than a frame, since audio can be sampled anywhere. */
  readonly stepMs?: number;
  /** Only frames in [fromFrame, toFrame) take part (default: all). */
  readonly fromFrame?: number;
  readonly toFrame?: number;
}

/** The BT.1359 detectability band: offsets people notice (ms, BT.1359 sign). */
export const BT1359_DETECTABLE = { audioEarlyMs: 45, audioLateMs: -125 } as const;
/** The BT.1359 acceptability band. */
export const BT1359_ACCEPTABLE = { audioEarlyMs: 90, audioLateMs: -185 } as const;

/** Where an offset falls against the BT.1359 thresholds. */
export function bt1359Verdict(offsetMs: number): 'undetectable' | 'detectable' | 'unacceptable' {
  if (offsetMs <= BT1359_DETECTABLE.audioEarlyMs && offsetMs >= BT1359_DETECTABLE.audioLateMs) return 'undetectable';
  if (offsetMs <= BT1359_ACCEPTABLE.audioEarlyMs && offsetMs >= BT1359_ACCEPTABLE.audioLateMs) return 'detectable';
  return 'unacceptable';
}

/** Hop of the fine loudness envelope, ms. */
const ENVELOPE_HOP_MS = 1;

/**
 * RMS loudness of windows of `windowMs` centred every ENVELOPE_HOP_MS, as linear level and
 * as dB (floored 50 dB below the loudest 5%), so that it can be read at any instant.
 */
export function fineEnvelope(pcm: Int16Array, sampleRate: number, windowMs: number): { linear: Float64Array; db: Float64Array } {
  const durationMs = (pcm.length * 1000) / sampleRate;
  const count = Math.ceil(durationMs / ENVELOPE_HOP_MS) + 1;
  // Prefix sums of squares make each window O(1).
  const prefix = new Float64Array(pcm.length + 1);
  for (let i = 0; i < pcm.length; i++) prefix[i + 1] = prefix[i]! + (pcm[i]! / 32768) ** 2;
  const half = (windowMs * sampleRate) / 2000;
  const linear = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const c = (k * ENVELOPE_HOP_MS * sampleRate) / 1000;
    const from = Math.max(0, Math.round(c - half));
    const to = Math.min(pcm.length, Math.round(c + half));
    linear[k] = to > from ? Math.sqrt((prefix[to]! - prefix[from]!) / (2 * half)) : 0;
  }
  const sorted = Array.from(linear).sort((a, b) => a - b);
  const loud = sorted[Math.floor(0.95 * (sorted.length - 1))] ?? 0;
  const floorDb = (loud > 0 ? 20 * Math.log10(loud) : -100) - 50;
  const db = linear.map((v) => Math.max(floorDb, v > 0 ? 20 * Math.log10(v) : -200));
  return { linear, db };
}

/** Reads an envelope at time tMs (linear interpolation; outside the audio: the first/last value). */
function envelopeAt(env: Float64Array, tMs: number): number {
  const x = tMs / ENVELOPE_HOP_MS;
  if (x <= 0) return env[0] ?? 0;
  if (x >= env.length - 1) return env[env.length - 1] ?? 0;
  const i = Math.floor(x);
  return env[i]! + (env[i + 1]! - env[i]!) * (x - i);
}

/**
 * Finds the audio/video offset of a talking head: for each candidate offset the audio
 * loudness is read at every frame's time shifted by that offset and correlated with the
 * mouth activity. The score is the mean of the correlations with linear loudness (loud
 * vowels) and with loudness in dB (quiet consonants count too). Because the audio is
 * resampled at each candidate, the search has `stepMs` resolution, not one frame.
 * An onset-based estimate (correlating the rises of both series) checks the result: plain
 * correlation of speech can show side peaks at the syllable rhythm.
 */
export function measureAvOffset(activity: ArrayLike<number>, pcm: Int16Array, sampleRate: number, fps: number, options: AvOffsetOptions = {}): AvOffset {
  const frameMs = 1000 / fps;
  const maxLagMs = (options.maxLagFrames ?? 15) * frameMs;
  const stepMs = options.stepMs ?? 5;
  const from = Math.max(0, options.fromFrame ?? 0);
  const to = Math.min(activity.length, options.toFrame ?? activity.length);
  const mouth = smooth3(Float64Array.from({ length: Math.max(0, to - from) }, (_, i) => activity[from + i]!));
  const mouthRise = rises(mouth);
  const { linear, db } = fineEnvelope(pcm, sampleRate, frameMs);
  const offsetsMs: number[] = [];
  const correlations: number[] = [];
  const onsetCorrelations: number[] = [];
  const steps = Math.round(maxLagMs / stepMs);
  for (let s = -steps; s <= steps; s++) {
    // Audio at (frame time + lag) matched with the picture: a peak at lag L means the sound of
    // a mouth movement arrives L ms later, i.e. audio late by L; BT.1359 calls that -L.
    const lagMs = s * stepMs;
    const lin = smooth3(Float64Array.from(mouth, (_, i) => envelopeAt(linear, (from + i) * frameMs + lagMs)));
    const log = smooth3(Float64Array.from(mouth, (_, i) => envelopeAt(db, (from + i) * frameMs + lagMs)));
    offsetsMs.push(-lagMs);
    correlations.push((laggedCorrelation(mouth, lin, 0) + laggedCorrelation(mouth, log, 0)) / 2);
    onsetCorrelations.push(laggedCorrelation(mouthRise, rises(log), 0));
  }
  const best = argMax(correlations);
  const onsetBest = argMax(onsetCorrelations);
  const offsetMs = refinePeak(offsetsMs, correlations, best);
  const onsetOffsetMs = refinePeak(offsetsMs, onsetCorrelations, onsetBest);
  const sorted = [...correlations].sort((a, b) => a - b);
  const margin = (correlations[best] ?? 0) - (sorted[sorted.length >> 1] ?? 0);
  const agree = Math.abs(onsetOffsetMs - offsetMs) <= frameMs;
  return {
    offsetMs, peakCorrelation: correlations[best] ?? 0,
    confidence: agree ? margin : margin / 2,
    onsetOffsetMs, agree, offsetsMs, correlations,
  };
}

/** Offset at a correlation peak, refined by a parabola through it and its neighbours. */
function refinePeak(offsets: number[], values: number[], best: number): number {
  const left = values[best - 1];
  const right = values[best + 1];
  const mid = values[best]!;
  if (left === undefined || right === undefined) return offsets[best]!;
  const denom = left - 2 * mid + right;
  const shift = denom < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / denom)) : 0;
  const step = offsets[best + 1]! - offsets[best]!;
  return offsets[best]! + shift * step;
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Half-wave rectified first difference: how much a series rises into each frame. */
function rises(x: Float64Array): Float64Array {
  return Float64Array.from(x, (v, i) => (i === 0 ? 0 : Math.max(0, v - x[i - 1]!)));
}

function smooth3(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = ((x[i - 1] ?? x[i]!) + 2 * x[i]! + (x[i + 1] ?? x[i]!)) / 4;
  return out;
}
