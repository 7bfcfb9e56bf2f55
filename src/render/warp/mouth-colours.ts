import type { Point } from '../avatar-input.js';
import type { WarpGeometry } from './mouth-warp.js';

/** A colour in BT.709 limited-range YUV. */
export interface Yuv {
  readonly y: number;
  readonly u: number;
  readonly v: number;
}

/** Colours of a drawn mouth interior, taken from the photo. */
export interface MouthColours {
  readonly cavity: Yuv;
  readonly teeth: Yuv;
  readonly tongue: Yuv;
  /** The photo shows teeth between its lips: they move with the lips, and none are drawn. */
  readonly photoShowsTeeth: boolean;
}

/** A lip gap (pixels, at the middle) from which the photo's own inner mouth is sampled. */
const MIN_SAMPLED_GAP = 3;

/**
 * Inner-mouth colours for a photo: the cavity and the tongue are darker versions of its
 * lips (their chroma scaled, so a greyscale photo gets grey; a gap between teeth in the
 * photo is shadow, not cavity, so it is not sampled), the teeth are the bright
 * pixels between its lips when it shows them, else a light tone near its lips' chroma.
 */
export function sampleMouthColours(i420: Uint8Array, width: number, height: number, g: WarpGeometry): MouthColours {
  const lips = meanBetween(i420, width, height, g.upperOuter, g.upperInner, g.lowerInner, g.lowerOuter);
  const du = lips.u - 128;
  const dv = lips.v - 128;
  const chroma = (k: number) => ({ u: clamp(128 + k * du, 16, 240), v: clamp(128 + k * dv, 16, 240) });
  const gapPixels = pixelsBetween(i420, width, height, g.upperInner, g.lowerInner);
  const middleGap = gapAtMiddle(g);
  const bright = gapPixels.filter((p) => p.y > lips.y + 40);
  const photoShowsTeeth = middleGap >= MIN_SAMPLED_GAP && bright.length >= 0.2 * gapPixels.length && bright.length >= 6;
  const teeth = photoShowsTeeth
    ? mean(bright)
    : { y: clamp(lips.y + 85, 150, 205), ...chroma(0.15) };
  return {
    cavity: { y: clamp(lips.y * 0.3, 16, 60), ...chroma(0.6) },
    tongue: { y: clamp(lips.y * 0.75, 40, 140), ...chroma(1.1) },
    teeth, photoShowsTeeth,
  };
}

/** Mean colour of the pixels between line pairs (upper lip: outer..inner; lower lip: inner..outer). */
function meanBetween(i420: Uint8Array, w: number, h: number, a: readonly Point[], b: readonly Point[], c: readonly Point[], d: readonly Point[]): Yuv {
  const all = [...pixelsBetween(i420, w, h, a, b), ...pixelsBetween(i420, w, h, c, d)];
  return all.length ? mean(all) : { y: 120, u: 128, v: 128 };
}

/** The pixels between an upper and a lower line (same x range), as YUV. */
function pixelsBetween(i420: Uint8Array, w: number, h: number, upper: readonly Point[], lower: readonly Point[]): Yuv[] {
  const out: Yuv[] = [];
  if (upper.length < 2 || lower.length < 2) return out;
  const xs = [...upper, ...lower].map((p) => p[0]);
  const x0 = Math.max(0, Math.ceil(Math.min(...xs)));
  const x1 = Math.min(w - 1, Math.floor(Math.max(...xs)));
  const cw = w >> 1;
  const uBase = w * h;
  const vBase = uBase + cw * (h >> 1);
  for (let x = x0; x <= x1; x++) {
    const top = lineY(upper, x);
    const bottom = lineY(lower, x);
    for (let y = Math.max(0, Math.ceil(top + 0.5)); y <= Math.min(h - 1, Math.floor(bottom - 0.5)); y++) {
      const c = (y >> 1) * cw + (x >> 1);
      out.push({ y: i420[y * w + x]!, u: i420[uBase + c]!, v: i420[vBase + c]! });
    }
  }
  return out;
}

function gapAtMiddle(g: WarpGeometry): number {
  return lineY(g.lowerInner, g.cx) - lineY(g.upperInner, g.cx);
}

function lineY(line: readonly Point[], x: number): number {
  const sorted = [...line].sort((a, b) => a[0] - b[0]);
  if (x <= sorted[0]![0]) return sorted[0]![1];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (x <= b[0]) return a[1] + ((b[1] - a[1]) * (x - a[0])) / Math.max(1e-6, b[0] - a[0]);
  }
  return sorted[sorted.length - 1]![1];
}

function mean(pixels: readonly Yuv[]): Yuv {
  let y = 0;
  let u = 0;
  let v = 0;
  for (const p of pixels) {
    y += p.y;
    u += p.u;
    v += p.v;
  }
  const n = pixels.length || 1;
  return { y: y / n, u: u / n, v: v / n };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
