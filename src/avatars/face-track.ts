import type { Bounds } from '../core/geometry.js';
import type { FaceGeometry, FaceShape } from './face-landmarks.js';
import type { CropRects, FrameMouth } from './manifest.js';

/** Faces found in one frame (empty when none). */
export type FrameFaces = readonly FaceGeometry[];

/** Why a face track cannot be built, with the frames concerned (inclusive, 0-based). */
export class FaceTrackError extends Error {
  constructor(message: string, readonly firstFrame: number, readonly lastFrame: number) {
    super(message);
  }
}

/** Limits on how much of a video may lack a usable face. */
export interface FaceTrackLimits {
  /** Longest run of frames without a face that is filled in from its neighbours. */
  readonly maxGapFrames: number;
  /** A second face counts when its box is at least this share of the main face's area. */
  readonly secondFaceArea: number;
  /** Frames with a second face allowed before the source is refused. */
  readonly maxSecondFaceFrames: number;
}

/** A face track: per-frame crop and mouth measures, smoothed so crops do not jitter. */
export interface FaceTrack {
  readonly cropRects: CropRects;
  readonly mouths: readonly FrameMouth[];
  /** Frames whose face was filled in from neighbours. */
  readonly filledFrames: number;
}

/**
 * Builds the face track of a sequence of frames. The main face is the best-scoring one;
 * short gaps are interpolated; long gaps or a persistent second face are refused with the
 * frame range. Positions are smoothed over ~0.2 s; mouth openness and width only lose
 * single-frame outliers (a 3-frame median), since they are the signal.
 */
export function buildFaceTrack(frames: readonly FrameFaces[], fps: number, limits: FaceTrackLimits): FaceTrack {
  if (frames.length === 0) throw new FaceTrackError('no frames to measure', 0, 0);
  const main = frames.map((faces) => faces[0]);
  checkSecondFaces(frames, limits);
  checkGaps(main, limits.maxGapFrames);
  const raw = main.map((face) => (face ? measure(face) : undefined));
  const filled = fillGaps(raw);
  const window = Math.max(1, Math.round(fps / 5)) | 1;
  const smooth = (key: keyof Measures) => movingAverage(filled.map((m) => m[key]), window);
  const median = (key: keyof Measures) => median3(filled.map((m) => m[key]));
  const [x1, y1, x2, y2, cx, cy, ax, ay, chinY] = (['x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'ax', 'ay', 'chinY'] as const).map(smooth) as number[][];
  const [open, width] = (['open', 'width'] as const).map(median) as number[][];
  const cropRects = filled.map((_, i) => [x1![i]!, y1![i]!, x2![i]!, y2![i]!].map(Math.round) as unknown as Bounds);
  const shapes = trackShapes(main, window);
  const mouths = filled.map((_, i): FrameMouth => ({
    cx: round2(cx![i]!), cy: round2(cy![i]!), width: round2(width![i]!), open: round2(open![i]!),
    ax: round2(ax![i]!), ay: round2(ay![i]!), chinY: round2(chinY![i]!),
    ...(shapes ? { face: shapes[i]! } : {}),
  }));
  return { cropRects, mouths, filledFrames: raw.filter((m) => !m).length };
}

/**
 * Per-frame face shapes (alignment points, jaw, pose) smoothed over `window` frames like the
 * positions, missing frames taken from the nearest measured one; undefined when the
 * landmarker gives no shapes.
 */
function trackShapes(main: readonly (FaceGeometry | undefined)[], window: number): FaceShape[] | undefined {
  const known = main.map((f) => f?.shape);
  const first = known.find((s) => s);
  if (!first || main.some((f) => f && !f.shape)) return undefined;
  const nA = first.align.length;
  const nJ = first.jaw.length;
  const vectors = known.map((s) => (s ? [...s.align, ...s.jaw, s.yaw, s.pitch] : undefined));
  const indices = vectors.map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
  const nearest = (i: number) => indices.reduce((best, k) => (Math.abs(k - i) < Math.abs(best - i) ? k : best), indices[0]!);
  const full = vectors.map((v, i) => v ?? vectors[nearest(i)]!);
  const columns = Array.from({ length: nA + nJ + 2 }, (_, c) => movingAverage(full.map((v) => v[c]!), window));
  return full.map((_, i) => {
    const v = columns.map((col) => col[i]!);
    return {
      align: v.slice(0, nA).map(round1), jaw: v.slice(nA, nA + nJ).map(round1),
      yaw: Math.round(v[nA + nJ]! * 1000) / 1000, pitch: Math.round(v[nA + nJ + 1]! * 1000) / 1000,
    };
  });
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

interface Measures {
  x1: number; y1: number; x2: number; y2: number;
  cx: number; cy: number; width: number; open: number; ax: number; ay: number; chinY: number;
}

function measure(face: FaceGeometry): Measures {
  const [bx1, by1, bx2, by2] = face.box;
  // The crop covers the face with a 10% margin (the region a lip-sync model is fed).
  const mx = (bx2 - bx1) * 0.1;
  const my = (by2 - by1) * 0.1;
  return {
    x1: bx1 - mx, y1: by1 - my, x2: bx2 + mx, y2: by2 + my,
    cx: face.mouth.center[0], cy: face.mouth.center[1], width: face.mouth.width, open: face.mouth.openness,
    ax: face.noseBottom[0], ay: face.noseBottom[1], chinY: face.chin[1],
  };
}

function checkSecondFaces(frames: readonly FrameFaces[], limits: FaceTrackLimits): void {
  const area = (f: FaceGeometry) => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
  const crowded = frames.map((faces) => faces.length > 1 && area(faces[1]!) >= limits.secondFaceArea * area(faces[0]!));
  const count = crowded.filter(Boolean).length;
  if (count > limits.maxSecondFaceFrames) {
    const first = crowded.indexOf(true);
    const last = crowded.lastIndexOf(true);
    throw new FaceTrackError(`several faces found in ${count} frame${count === 1 ? '' : 's'} (frames ${first}-${last}); use a source with one person`, first, last);
  }
}

function checkGaps(main: readonly (FaceGeometry | undefined)[], maxGap: number): void {
  if (main.every((f) => !f)) throw new FaceTrackError(`no face found (frames 0-${main.length - 1})`, 0, main.length - 1);
  let start = -1;
  for (let i = 0; i <= main.length; i++) {
    const missing = i < main.length && !main[i];
    if (missing && start < 0) start = i;
    if (!missing && start >= 0) {
      if (i - start > maxGap) throw new FaceTrackError(`no face found in frames ${start}-${i - 1}`, start, i - 1);
      start = -1;
    }
  }
}

/** Fills missing frames by linear interpolation between the nearest measured ones. */
function fillGaps(raw: readonly (Measures | undefined)[]): Measures[] {
  const known = raw.map((m, i) => (m ? i : -1)).filter((i) => i >= 0);
  return raw.map((m, i) => {
    if (m) return m;
    const next = known.find((k) => k > i);
    const prev = [...known].reverse().find((k) => k < i);
    if (prev === undefined) return raw[next!]!;
    if (next === undefined) return raw[prev]!;
    const t = (i - prev) / (next - prev);
    const a = raw[prev]!;
    const b = raw[next]!;
    const out = {} as Measures;
    for (const key of Object.keys(a) as (keyof Measures)[]) out[key] = a[key] + (b[key] - a[key]) * t;
    return out;
  });
}

/** Centered moving average with the window shrinking at the ends. */
export function movingAverage(values: readonly number[], window: number): number[] {
  const half = window >> 1;
  return values.map((_, i) => {
    let sum = 0;
    let n = 0;
    for (let j = Math.max(0, i - half); j <= Math.min(values.length - 1, i + half); j++) {
      sum += values[j]!;
      n++;
    }
    return sum / n;
  });
}

function median3(values: readonly number[]): number[] {
  return values.map((v, i) => {
    if (i === 0 || i === values.length - 1) return v;
    const [a, b, c] = [values[i - 1]!, v, values[i + 1]!];
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  });
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
