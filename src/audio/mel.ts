/**
 * The Wav2Lip mel spectrogram (hparams of Wav2Lip's audio.py), computed in float64:
 * 16 kHz input, pre-emphasis 0.97, STFT n_fft 800 hop 200 with an 800-sample periodic Hann
 * window, centered with reflect padding, magnitude, 80 Slaney-normalised mel bands from
 * 55 to 7600 Hz, 20*log10(max(1e-5, x)) - 20, then clip(8*(S + 100)/100 - 4, -4, 4).
 * Mel frame k is centred on sample k*200 (12.5 ms per frame).
 */
export const WAV2LIP_MEL = {
  sampleRate: 16000, preemphasis: 0.97, nFft: 800, hop: 200, bands: 80, fMin: 55, fMax: 7600,
  minLevelDb: -100, refLevelDb: 20, maxAbs: 4, windowFrames: 16,
} as const;

const { nFft: N_FFT, hop: HOP, bands: BANDS } = WAV2LIP_MEL;
const BINS = N_FFT / 2 + 1;

/** Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above. */
export function hzToMelSlaney(hz: number): number {
  const fSp = 200 / 3;
  if (hz < 1000) return hz / fSp;
  return 1000 / fSp + Math.log(hz / 1000) / (Math.log(6.4) / 27);
}

/** Inverse of hzToMelSlaney. */
export function melToHzSlaney(mel: number): number {
  const fSp = 200 / 3;
  const minLogMel = 1000 / fSp;
  if (mel < minLogMel) return mel * fSp;
  return 1000 * Math.exp((Math.log(6.4) / 27) * (mel - minLogMel));
}

/** Triangular mel filters [bands][bins] with Slaney area normalisation (librosa.filters.mel). */
export function slaneyMelFilters(sampleRate: number, nFft: number, bands: number, fMin: number, fMax: number): Float64Array[] {
  const bins = nFft / 2 + 1;
  const lo = hzToMelSlaney(fMin);
  const hi = hzToMelSlaney(fMax);
  const edges = Array.from({ length: bands + 2 }, (_, i) => melToHzSlaney(lo + ((hi - lo) * i) / (bands + 1)));
  const filters: Float64Array[] = [];
  for (let b = 0; b < bands; b++) {
    const row = new Float64Array(bins);
    const [left, centre, right] = [edges[b]!, edges[b + 1]!, edges[b + 2]!];
    const norm = 2 / (right - left);
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const rising = (f - left) / (centre - left);
      const falling = (right - f) / (right - centre);
      row[k] = Math.max(0, Math.min(rising, falling)) * norm;
    }
    filters.push(row);
  }
  return filters;
}

/** Mixed-radix FFT of a fixed length (800 = 5*5*2^5), complex in place via scratch buffers. */
class Fft {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly factors: number[] = [];

  constructor(readonly n: number) {
    this.cos = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * i) / n));
    this.sin = Float64Array.from({ length: n }, (_, i) => -Math.sin((2 * Math.PI * i) / n));
    let rest = n;
    for (const p of [5, 4, 3, 2]) while (rest % p === 0) { this.factors.push(p); rest /= p; }
    if (rest !== 1) this.factors.push(rest);
  }

  /** X[k] = sum x[t] e^{-2 pi i k t / n}. */
  transform(inRe: Float64Array, inIm: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    this.step(inRe, inIm, 0, 1, this.n, outRe, outIm, 0, 0);
  }

  private step(inRe: Float64Array, inIm: Float64Array, offset: number, stride: number, n: number, outRe: Float64Array, outIm: Float64Array, out: number, level: number): void {
    if (n === 1) {
      outRe[out] = inRe[offset]!;
      outIm[out] = inIm[offset]!;
      return;
    }
    const p = this.factors[level]!;
    const m = n / p;
    for (let q = 0; q < p; q++) this.step(inRe, inIm, offset + q * stride, stride * p, m, outRe, outIm, out + q * m, level + 1);
    const scale = this.n / n;
    const tr = new Float64Array(p);
    const ti = new Float64Array(p);
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        tr[q] = outRe[out + q * m + k]!;
        ti[q] = outIm[out + q * m + k]!;
      }
      for (let s = 0; s < p; s++) {
        const j = k + s * m;
        let re = 0;
        let im = 0;
        for (let q = 0; q < p; q++) {
          const w = ((q * j) % n) * scale;
          const c = this.cos[w]!;
          const d = this.sin[w]!;
          re += tr[q]! * c - ti[q]! * d;
          im += tr[q]! * d + ti[q]! * c;
        }
        outRe[out + j] = re;
        outIm[out + j] = im;
      }
    }
  }
}

let shared: { fft: Fft; window: Float64Array; filters: Float64Array[]; firstBin: number[]; lastBin: number[] } | undefined;

function tables() {
  if (!shared) {
    const filters = slaneyMelFilters(WAV2LIP_MEL.sampleRate, N_FFT, BANDS, WAV2LIP_MEL.fMin, WAV2LIP_MEL.fMax);
    shared = {
      fft: new Fft(N_FFT),
      // Periodic Hann (scipy get_window('hann', 800, fftbins=True), what librosa.stft uses).
      window: Float64Array.from({ length: N_FFT }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N_FFT)),
      filters,
      firstBin: filters.map((row) => row.findIndex((v) => v > 0)),
      lastBin: filters.map((row) => BINS - 1 - [...row].reverse().findIndex((v) => v > 0)),
    };
  }
  return shared;
}

/**
 * Computes normalised mel frames from pre-emphasised samples. `sample(i)` returns the
 * pre-emphasised signal at any index, reflect padding included (the caller knows the ends).
 */
export function melFrame(sample: (i: number) => number, frame: number, out: Float64Array): void {
  const { fft, window, filters, firstBin, lastBin } = tables();
  const re = new Float64Array(N_FFT);
  const im = new Float64Array(N_FFT);
  const start = frame * HOP - N_FFT / 2;
  for (let t = 0; t < N_FFT; t++) re[t] = sample(start + t) * window[t]!;
  const sr = new Float64Array(N_FFT);
  const si = new Float64Array(N_FFT);
  fft.transform(re, im, sr, si);
  const mag = new Float64Array(BINS);
  for (let k = 0; k < BINS; k++) mag[k] = Math.hypot(sr[k]!, si[k]!);
  const { minLevelDb, refLevelDb, maxAbs } = WAV2LIP_MEL;
  for (let b = 0; b < BANDS; b++) {
    const row = filters[b]!;
    let energy = 0;
    for (let k = firstBin[b]!; k <= lastBin[b]!; k++) energy += row[k]! * mag[k]!;
    const db = 20 * Math.log10(Math.max(1e-5, energy)) - refLevelDb;
    const norm = (2 * maxAbs * (db - minLevelDb)) / -minLevelDb - maxAbs;
    out[b] = Math.max(-maxAbs, Math.min(maxAbs, norm));
  }
}

/** Number of mel frames of a centred STFT over `samples` samples. */
export function melFrameCount(samples: number): number {
  return 1 + Math.floor(samples / HOP);
}

/**
 * The whole-signal Wav2Lip mel of 16 kHz samples in -1..1: [frames][80] (time-major; a
 * model's window is the transpose, bands by time).
 */
export function wav2lipMel(samples: Float64Array | Float32Array): Float64Array[] {
  const pre = preemphasize(samples);
  const sample = reflectReader(pre, pre.length);
  const frames = melFrameCount(samples.length);
  return Array.from({ length: frames }, (_, f) => {
    const row = new Float64Array(BANDS);
    melFrame(sample, f, row);
    return row;
  });
}

/** y[n] = x[n] - 0.97 x[n-1] (scipy lfilter([1, -0.97], [1], x)). */
export function preemphasize(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - WAV2LIP_MEL.preemphasis * (i > 0 ? x[i - 1]! : 0);
  return out;
}

/** Reads x with numpy 'reflect' padding at both ends of a signal `length` long. */
export function reflectReader(x: Float64Array, length: number): (i: number) => number {
  return (i: number) => {
    if (length === 1) return x[0]!;
    const period = 2 * (length - 1);
    let j = ((i % period) + period) % period;
    if (j >= length) j = period - j;
    return x[j]!;
  };
}

/** First mel frame of the window of video frame `index` at `fps`: int(index * 80 / fps). */
export function melWindowStart(index: number, fps: number): number {
  return Math.floor((index * 80) / fps + 1e-9);
}

/**
 * The 16-frame window of video frame `index` as a model receives it, [1, 80, 16] (bands by
 * time), float32. Windows past the end take the last 16 frames, as Wav2Lip does.
 */
export function melWindow(mel: readonly Float64Array[], index: number, fps: number, out = new Float32Array(BANDS * WAV2LIP_MEL.windowFrames)): Float32Array {
  const width = WAV2LIP_MEL.windowFrames;
  let start = melWindowStart(index, fps);
  if (start + width > mel.length) start = Math.max(0, mel.length - width);
  for (let t = 0; t < width; t++) {
    const row = mel[Math.min(mel.length - 1, start + t)]!;
    for (let b = 0; b < BANDS; b++) out[b * width + t] = row[b]!;
  }
  return out;
}
