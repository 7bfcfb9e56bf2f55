/** Options of the YIN pitch tracker. */
export interface PitchOptions {
  /** Lowest and highest fundamental searched, Hz. */
  readonly minHz?: number;
  readonly maxHz?: number;
  /** Hop between analysis frames, ms. */
  readonly hopMs?: number;
  /** Absolute threshold on the cumulative-mean-normalised difference (YIN step 4). */
  readonly threshold?: number;
  /** Frames quieter than this (dBFS RMS) are unvoiced whatever their periodicity. */
  readonly silenceDb?: number;
}

/** F0 per analysis frame; NaN where the frame is unvoiced or silent. */
export interface PitchTrack {
  readonly hopMs: number;
  readonly f0Hz: Float64Array;
}

/** Summary of the voiced frames of a pitch track. */
export interface PitchSummary {
  /** Mean F0 of voiced frames, Hz (NaN when nothing is voiced). */
  readonly meanHz: number;
  /** 5th and 95th percentiles of voiced F0, Hz: a range robust to octave slips. */
  readonly lowHz: number;
  readonly highHz: number;
  /** highHz / lowHz in semitones. */
  readonly rangeSemitones: number;
  /** Share of non-silent frames that are voiced, 0..1. */
  readonly voicedShare: number;
  readonly voicedFrames: number;
}

/**
 * YIN fundamental-frequency tracker (de Cheveigné and Kawahara, 2002): difference function,
 * cumulative-mean normalisation, first dip under the absolute threshold, then parabolic
 * interpolation of the dip for sub-sample periods. Window: two periods of minHz.
 */
export function trackPitch(pcm: Int16Array, sampleRate: number, options: PitchOptions = {}): PitchTrack {
  const minHz = options.minHz ?? 60;
  const maxHz = options.maxHz ?? 500;
  const hopMs = options.hopMs ?? 10;
  const threshold = options.threshold ?? 0.15;
  const silenceDb = options.silenceDb ?? -45;
  const maxTau = Math.ceil(sampleRate / minHz);
  const minTau = Math.max(2, Math.floor(sampleRate / maxHz));
  const window = maxTau;
  const hop = Math.max(1, Math.round((hopMs * sampleRate) / 1000));
  const count = Math.max(0, Math.floor((pcm.length - window - maxTau) / hop) + 1);
  const f0Hz = new Float64Array(count).fill(NaN);
  const d = new Float64Array(maxTau + 1);
  const x = new Float64Array(window + maxTau);
  for (let f = 0; f < count; f++) {
    const start = f * hop;
    let energy = 0;
    for (let i = 0; i < x.length; i++) {
      x[i] = pcm[start + i]! / 32768;
      if (i < window) energy += x[i]! * x[i]!;
    }
    const rms = Math.sqrt(energy / window);
    if (rms <= 0 || 20 * Math.log10(rms) < silenceDb) continue;
    for (let tau = 1; tau <= maxTau; tau++) {
      let sum = 0;
      for (let i = 0; i < window; i++) {
        const diff = x[i]! - x[i + tau]!;
        sum += diff * diff;
      }
      d[tau] = sum;
    }
    // Cumulative-mean-normalised difference, in place.
    d[0] = 1;
    let running = 0;
    for (let tau = 1; tau <= maxTau; tau++) {
      running += d[tau]!;
      d[tau] = running > 0 ? (d[tau]! * tau) / running : 1;
    }
    let tau = minTau;
    while (tau < maxTau && d[tau]! >= threshold) tau++;
    if (tau >= maxTau) continue;
    while (tau + 1 < maxTau && d[tau + 1]! < d[tau]!) tau++;
    const a = d[tau - 1]!;
    const b = d[tau]!;
    const c = d[tau + 1] ?? b;
    const denom = a - 2 * b + c;
    const refined = denom > 0 ? tau + (0.5 * (a - c)) / denom : tau;
    f0Hz[f] = sampleRate / refined;
  }
  return { hopMs: (hop * 1000) / sampleRate, f0Hz };
}

/** Mean and robust range of F0 over the voiced frames of `pcm`. */
export function summarizePitch(pcm: Int16Array, sampleRate: number, options: PitchOptions = {}): PitchSummary {
  const silenceDb = options.silenceDb ?? -45;
  const { f0Hz } = trackPitch(pcm, sampleRate, options);
  const voiced = Array.from(f0Hz).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const hop = Math.max(1, Math.round(((options.hopMs ?? 10) * sampleRate) / 1000));
  let loud = 0;
  for (let f = 0; f < f0Hz.length; f++) {
    let e = 0;
    const from = f * hop;
    const to = Math.min(pcm.length, from + hop);
    for (let i = from; i < to; i++) e += (pcm[i]! / 32768) ** 2;
    if (to > from && 10 * Math.log10(e / (to - from) + 1e-20) >= silenceDb) loud++;
  }
  if (voiced.length === 0) return { meanHz: NaN, lowHz: NaN, highHz: NaN, rangeSemitones: 0, voicedShare: 0, voicedFrames: 0 };
  const at = (p: number) => voiced[Math.min(voiced.length - 1, Math.floor(p * voiced.length))]!;
  const lowHz = at(0.05);
  const highHz = at(0.95);
  return {
    meanHz: voiced.reduce((s, v) => s + v, 0) / voiced.length,
    lowHz, highHz,
    rangeSemitones: 12 * Math.log2(highHz / lowHz),
    voicedShare: loud > 0 ? Math.min(1, voiced.length / loud) : 0,
    voicedFrames: voiced.length,
  };
}
