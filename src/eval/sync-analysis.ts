import type { Box } from '../core/geometry.js';
import { decodeAudio } from '../audio/decode-audio.js';
import { loudnessEnvelope } from '../audio/frame-features.js';
import { AvatarError } from '../core/errors.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';

/** A rectangle in video pixels: x, y, width, height. */
export type Region = Box;

/** Audio/video synchrony of a talking-head video, measured from the pixels and the sound. */
export interface SyncAnalysis {
  readonly fps: number;
  readonly frames: number;
  /** Mean absolute luma change of the mouth region from the previous frame, per frame. */
  readonly motion: Float64Array;
  /** Distance of the mouth region from its appearance at rest, per frame (see mouthActivity). */
  readonly activity: Float64Array;
  /** Audio RMS per video frame (0..1 of full scale). */
  readonly envelope: Float64Array;
  /** Pearson correlation of mouth activity with the envelope shifted by each lag, from -maxLag to +maxLag. */
  readonly correlations: number[];
  /** Lag (frames) with the highest correlation; positive when the audio comes late. */
  readonly lagFrames: number;
  /** The same in ms, refined between frames by a parabola through the peak. */
  readonly offsetMs: number;
  readonly peakCorrelation: number;
  /** How far the peak stands above the other lags (peak minus median, in correlation units). */
  readonly confidence: number;
  /** Mean motion in frames whose audio is silent, and in frames with speech. */
  readonly silentMotion: number;
  readonly speechMotion: number;
  /** Frames counted as silent / speaking. */
  readonly silentFrames: number;
  readonly speechFrames: number;
}

/** Luma of a region of every frame of a video, decoded by ffmpeg. */
export async function decodeRegionLuma(path: string, region: Region): Promise<{ frames: Uint8Array[]; fps: number }> {
  const [x, y, w, h] = region;
  const fps = await videoFps(path);
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', path, '-map', '0:v:0', '-vf', `format=gray,crop=${w}:${h}:${x}:${y}`, '-f', 'rawvideo', 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode video ${path}: ${ffmpegErrorTail(stderr)}`);
  const size = w * h;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= stdout.length; o += size) frames.push(stdout.subarray(o, o + size));
  return { frames, fps };
}

/** Frame rate of the first video stream, read from ffmpeg's stream description. */
export async function videoFps(path: string): Promise<number> {
  const { stderr } = await runFfmpeg(['-i', path]);
  const m = /Stream #[^\n]*Video:[^\n]*?(\d+(?:\.\d+)?) fps/.exec(stderr) ?? /Stream #[^\n]*Video:[^\n]*?(\d+(?:\.\d+)?) tbr/.exec(stderr);
  if (!m) throw new AvatarError('invalid_input', `no video stream in ${path}`);
  return Number(m[1]);
}

/**
 * Mouth motion per frame: the mean absolute difference from the previous frame, after
 * aligning the two by the best whole-pixel shift within +/- `search` pixels, so that head
 * motion is not counted as mouth motion. The first frame scores 0.
 */
export function frameMotion(frames: readonly Uint8Array[], width: number, height: number, search = 3): Float64Array {
  const out = new Float64Array(frames.length);
  for (let i = 1; i < frames.length; i++) out[i] = alignedDifference(frames[i - 1]!, frames[i]!, width, height, search);
  return out;
}

/**
 * Mouth activity per frame: how far the mouth region is from its appearance at rest (the
 * per-pixel median of the quietest tenth of the frames, where the mouth is closed), after
 * the same shift alignment as frameMotion. Open mouths score high, closed ones near 0.
 */
export function mouthActivity(frames: readonly Uint8Array[], loudness: ArrayLike<number>, width: number, height: number, search = 3): Float64Array {
  const order = Array.from({ length: frames.length }, (_, i) => i).sort((a, b) => (loudness[a] ?? 0) - (loudness[b] ?? 0));
  const quiet = order.slice(0, Math.max(3, Math.floor(frames.length / 10))).map((i) => frames[i]!);
  const rest = new Uint8Array(width * height);
  const column = new Uint8Array(quiet.length);
  for (let p = 0; p < rest.length; p++) {
    for (let k = 0; k < quiet.length; k++) column[k] = quiet[k]![p]!;
    column.sort();
    rest[p] = column[column.length >> 1]!;
  }
  return Float64Array.from(frames, (f) => alignedDifference(rest, f, width, height, search));
}

/** Mean absolute difference of b from a at the best whole-pixel shift within +/- search. */
function alignedDifference(a: Uint8Array, b: Uint8Array, width: number, height: number, search: number): number {
  const m = search;
  {
    let best = Infinity;
    for (let sy = -m; sy <= m; sy++) {
      for (let sx = -m; sx <= m; sx++) {
        let sum = 0;
        for (let y = m; y < height - m; y++) {
          const ra = y * width;
          const rb = (y + sy) * width + sx;
          for (let x = m; x < width - m; x++) sum += Math.abs(a[ra + x]! - b[rb + x]!);
        }
        if (sum < best) best = sum;
      }
    }
    return best / ((width - 2 * m) * (height - 2 * m));
  }
}

/** Pearson correlation of a[t] with b[t + lag] over the overlap. */
export function laggedCorrelation(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  const start = Math.max(0, -lag);
  const end = Math.min(a.length, b.length - lag);
  const n = end - start;
  if (n < 3) return 0;
  let ma = 0;
  let mb = 0;
  for (let t = start; t < end; t++) {
    ma += a[t]!;
    mb += b[t + lag]!;
  }
  ma /= n;
  mb /= n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let t = start; t < end; t++) {
    const x = a[t]! - ma;
    const y = b[t + lag]! - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}

/**
 * Measures lip sync on any talking-head video: mouth activity (how open the mouth region
 * looks) against the audio loudness envelope, cross-correlated over +/- maxLag frames. Both series are smoothed over
 * three frames first (speech rhythm, not single-frame noise, carries the alignment). Silence is
 * audio more than 30 dB below the loudest 5% of frames; stillness is judged inside quiet
 * runs, away from their edges.
 */
export async function analyzeSync(path: string, region: Region, options: { maxLag?: number } = {}): Promise<SyncAnalysis> {
  const maxLag = options.maxLag ?? 15;
  const { frames, fps } = await decodeRegionLuma(path, region);
  const { readFile } = await import('node:fs/promises');
  const audio = await decodeAudio(await readFile(path), { sampleRate: 16000 });
  const motion = frameMotion(frames, region[2], region[3]);
  const envelope = loudnessEnvelope(audio.pcm, audio.sampleRate, fps, frames.length);
  const activity = mouthActivity(frames, envelope, region[2], region[3]);
  const m = smooth3(activity);
  const e = smooth3(envelope);
  const correlations: number[] = [];
  for (let lag = -maxLag; lag <= maxLag; lag++) correlations.push(laggedCorrelation(m, e, lag));
  let best = 0;
  for (let i = 1; i < correlations.length; i++) if (correlations[i]! > correlations[best]!) best = i;
  const lagFrames = best - maxLag;
  const left = correlations[best - 1] ?? correlations[best]!;
  const right = correlations[best + 1] ?? correlations[best]!;
  const denom = left - 2 * correlations[best]! + right;
  const refine = denom < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / denom)) : 0;
  const sorted = [...correlations].sort((a, b) => a - b);
  const still = motionBySpan(motion, envelope);
  return {
    fps, frames: frames.length, motion, activity, envelope, correlations, lagFrames,
    offsetMs: ((lagFrames + refine) * 1000) / fps,
    peakCorrelation: correlations[best]!,
    confidence: correlations[best]! - sorted[Math.floor(sorted.length / 2)]!,
    ...still,
  };
}

/** Mean mouth motion inside silent spans and in speech, and how many frames each holds. */
export interface SpanMotion {
  readonly silentMotion: number;
  readonly speechMotion: number;
  readonly silentFrames: number;
  readonly speechFrames: number;
}

/**
 * Splits frames by the loudness envelope (silence: 30 dB below its 95th percentile, inner
 * part of each quiet run) and averages the motion of each side.
 */
export function motionBySpan(motion: ArrayLike<number>, envelope: ArrayLike<number>): SpanMotion {
  const floor = percentile(envelope, 0.95) * Math.pow(10, -30 / 20);
  const silent = silentSpans(envelope, floor, SPAN_MARGIN_FRAMES);
  let silentSum = 0;
  let silentN = 0;
  let speechSum = 0;
  let speechN = 0;
  for (let i = 1; i < motion.length; i++) {
    if (silent[i]) {
      silentSum += motion[i]!;
      silentN++;
    } else if (envelope[i]! >= floor) {
      speechSum += motion[i]!;
      speechN++;
    }
  }
  return {
    silentMotion: silentN ? silentSum / silentN : 0,
    speechMotion: speechN ? speechSum / speechN : 0,
    silentFrames: silentN,
    speechFrames: speechN,
  };
}

/** Frames trimmed from each end of a quiet run: lips may still be closing or already opening there. */
const SPAN_MARGIN_FRAMES = 4;

/**
 * Marks the inside of each run of quiet frames (envelope below `floor`), leaving out
 * `margin` frames at both ends where coarticulation legitimately moves the lips.
 */
export function silentSpans(envelope: ArrayLike<number>, floor: number, margin: number): boolean[] {
  const out = new Array<boolean>(envelope.length).fill(false);
  let start = -1;
  for (let i = 0; i <= envelope.length; i++) {
    const quiet = i < envelope.length && envelope[i]! < floor;
    if (quiet && start < 0) start = i;
    if (!quiet && start >= 0) {
      for (let k = start + margin; k < i - margin; k++) out[k] = true;
      start = -1;
    }
  }
  return out;
}

function smooth3(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = ((x[i - 1] ?? x[i]!) + 2 * x[i]! + (x[i + 1] ?? x[i]!)) / 4;
  return out;
}

function percentile(x: ArrayLike<number>, p: number): number {
  const s = Array.from(x).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
}
