import { polyphaseRange, type PolyphaseBank } from './resample-kernel.js';

/**
 * Resamples mono 16-bit PCM by linear interpolation: no anti-alias filter, so only for
 * tests and for rates that do not matter. Use `resample` for audio people hear.
 */
export function resampleLinear(pcm: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return pcm;
  const outLength = Math.round((pcm.length * toRate) / fromRate);
  const out = new Int16Array(outLength);
  const step = fromRate / toRate;
  for (let i = 0; i < outLength; i++) {
    const pos = i * step;
    const j = Math.floor(pos);
    const f = pos - j;
    const a = pcm[Math.min(j, pcm.length - 1)] ?? 0;
    const b = pcm[Math.min(j + 1, pcm.length - 1)] ?? 0;
    out[i] = Math.round(a + (b - a) * f);
  }
  return out;
}

/** Quality knobs of the windowed-sinc resampler. */
export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (filter length / 2 at the lower rate). Default 16. */
  readonly halfTaps?: number;
  /** Passband edge as a fraction of the lower Nyquist frequency. Default 0.9. */
  readonly rolloff?: number;
  /** Kaiser window shape: higher attenuates more in the stopband, widens the transition. Default 9 (about -90 dB). */
  readonly kaiserBeta?: number;
}

/** Filter banks by ratio and options: speech sessions resample the same pair of rates over and over. */
const BANKS = new Map<string, PolyphaseBank>();
/** Phases above this are quantized (rates with a huge least common multiple, e.g. 44100 -> 16001). */
const MAX_PHASES = 1024;


/**
 * Resamples mono 16-bit PCM with a Kaiser-windowed sinc low-pass (polyphase): the band
 * above the lower of the two Nyquist frequencies is removed, so downsampling does not alias
 * and upsampling does not image. Output length is round(length * toRate / fromRate); the
 * signal is not delayed (the filter is centred on each output instant).
 */
export function resample(pcm: Int16Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Int16Array {
  checkRates(fromRate, toRate);
  if (fromRate === toRate || pcm.length === 0) return pcm;
  const out = new Int16Array(resampledLength(pcm.length, fromRate, toRate));
  resampleRange(pcm, fromRate, toRate, 0, out.length, out, 0, options);
  return out;
}

/** How many samples `samples` samples at `fromRate` become at `toRate` (as resample gives them). */
export function resampledLength(samples: number, fromRate: number, toRate: number): number {
  return Math.round((samples * toRate) / fromRate);
}

/**
 * Output samples `first` .. `first + count - 1` of `resample(pcm, fromRate, toRate)`,
 * written to `out` from `at`: the same values, computed for a part only (a stream resamples
 * each piece when it is needed instead of the whole at once).
 */
export function resampleRange(pcm: Int16Array, fromRate: number, toRate: number, first: number, count: number, out: Int16Array, at: number, options: ResampleOptions = {}): void {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) {
    for (let n = first; n < first + count; n++) out[at + n - first] = pcm[n] ?? 0;
    return;
  }
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  const bank = filterBank(up, down, options);
  if (up <= MAX_PHASES) {
    polyphaseRange(pcm, bank, up, down, first, count, out, at);
    return;
  }
  // Rates with a huge common multiple: the phase is quantized to the bank's rows.
  const { phases, taps, coefficients, offset } = bank;
  const last = pcm.length - 1;
  for (let n = first; n < first + count; n++) {
    const scaled = n * down;
    let base = Math.floor(scaled / up);
    let phase = Math.round(((scaled - base * up) / up) * phases);
    if (phase === phases) {
      phase = 0;
      base++;
    }
    const row = phase * taps;
    const from = base - offset;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const i = from + k;
      // Samples outside the signal are silence.
      if (i >= 0 && i <= last) sum += pcm[i]! * coefficients[row + k]!;
    }
    out[at + n - first] = sum > 32767 ? 32767 : sum < -32768 ? -32768 : Math.round(sum);
  }
}

function checkRates(fromRate: number, toRate: number): void {
  if (!(fromRate > 0 && toRate > 0 && Number.isInteger(fromRate) && Number.isInteger(toRate))) throw new RangeError(`sample rates must be positive whole numbers, got ${fromRate} and ${toRate}`);
}

function filterBank(up: number, down: number, options: ResampleOptions): PolyphaseBank {
  const halfTaps = options.halfTaps ?? 16;
  const rolloff = options.rolloff ?? 0.9;
  const beta = options.kaiserBeta ?? 9;
  const key = `${up}/${down}/${halfTaps}/${rolloff}/${beta}`;
  const cached = BANKS.get(key);
  if (cached) return cached;
  // Cutoff in cycles per input sample: half the lower rate, less the roll-off margin.
  const scale = Math.min(1, up / down);
  const cutoff = 0.5 * scale * rolloff;
  const halfWidth = Math.ceil(halfTaps / scale);
  const taps = 2 * halfWidth;
  const phases = Math.min(up, MAX_PHASES);
  const coefficients = new Float32Array(phases * taps);
  const i0Beta = besselI0(beta);
  for (let p = 0; p < phases; p++) {
    const fraction = p / phases;
    let total = 0;
    for (let k = 0; k < taps; k++) {
      // Tap k reads input sample base - halfWidth + 1 + k; x is its distance from the output instant.
      const x = k - (halfWidth - 1) - fraction;
      const w = Math.abs(x) >= halfWidth ? 0 : besselI0(beta * Math.sqrt(1 - (x / halfWidth) ** 2)) / i0Beta;
      const h = 2 * cutoff * sinc(2 * cutoff * x) * w;
      coefficients[p * taps + k] = h;
      total += h;
    }
    // Unit gain at DC for every phase: no ripple from the phase quantization.
    for (let k = 0; k < taps; k++) coefficients[p * taps + k]! /= total;
  }
  const bank = { phases, taps, coefficients, offset: halfWidth - 1 };
  BANKS.set(key, bank);
  return bank;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Modified Bessel function of the first kind, order 0 (series; converges fast for the betas used). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const half = x / 2;
  for (let k = 1; k < 50; k++) {
    term *= (half / k) ** 2;
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
