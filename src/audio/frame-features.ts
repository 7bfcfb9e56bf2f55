/** Loudness and spectral tilt of the audio around one video frame. */
export interface FrameFeatures {
  /** RMS level, dBFS (-100 for digital silence). */
  readonly levelDb: number;
  /**
   * Share of energy in the signal's first difference, 0..1: a cheap proxy for how much of
   * the sound is high-frequency (fricatives like s, f, sh score high; vowels low).
   */
  readonly brightness: number;
}

/**
 * Features of the samples in [centerMs - windowMs/2, centerMs + windowMs/2). Samples outside
 * the buffer count as silence.
 */
export function featuresAt(pcm: Int16Array, sampleRate: number, centerMs: number, windowMs: number): FrameFeatures {
  const from = Math.max(0, Math.round(((centerMs - windowMs / 2) * sampleRate) / 1000));
  const to = Math.min(pcm.length, Math.round(((centerMs + windowMs / 2) * sampleRate) / 1000));
  const n = Math.round((windowMs * sampleRate) / 1000);
  let energy = 0;
  let diffEnergy = 0;
  let prev = from > 0 ? pcm[from - 1]! : 0;
  for (let i = from; i < to; i++) {
    const x = pcm[i]!;
    energy += x * x;
    const d = x - prev;
    diffEnergy += d * d;
    prev = x;
  }
  const rms = Math.sqrt(energy / Math.max(1, n)) / 32768;
  const levelDb = rms > 1e-5 ? 20 * Math.log10(rms) : -100;
  // A pure tone at f has diff/energy = 2 - 2cos(2*pi*f/fs); normalise so 4 kHz and up reads ~1.
  const ratio = energy > 0 ? diffEnergy / energy : 0;
  const ref = 2 - 2 * Math.cos((2 * Math.PI * Math.min(4000, sampleRate / 2 - 1)) / sampleRate);
  return { levelDb, brightness: Math.min(1, ratio / ref) };
}

/** RMS loudness per video frame (linear, 0..1 of full scale), over each frame's own span. */
export function loudnessEnvelope(pcm: Int16Array, sampleRate: number, fps: number, frames?: number): Float64Array {
  const count = frames ?? Math.ceil((pcm.length * fps) / sampleRate);
  const out = new Float64Array(count);
  for (let f = 0; f < count; f++) {
    const from = Math.floor((f * sampleRate) / fps);
    const to = Math.min(pcm.length, Math.floor(((f + 1) * sampleRate) / fps));
    let e = 0;
    for (let i = from; i < to; i++) e += pcm[i]! * pcm[i]!;
    out[f] = to > from ? Math.sqrt(e / (to - from)) / 32768 : 0;
  }
  return out;
}
