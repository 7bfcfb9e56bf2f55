import { windowExtreme } from '../compose/window-extremes.js';
import type { FrameMouth } from '../render/avatar-input.js';

/**
 * The seam/ghost metric: how much of the lower face's edge structure in a rendered frame
 * disagrees with the background frame it was built on, outside the lips (where a render
 * is meant to change things). A well-aligned, well-blended mouth leaves the cheeks, the
 * sides of the jawline, the neck and whatever lies behind the head as they were: every edge of the
 * output has an edge of the background within `EDGE_SLACK_PX` and the other way round.
 * A doubled jaw, a pale streak, a patch of wall on the cheek or an object cut at a patch
 * border each adds edges that the background lacks or removes edges it has.
 */

/** Edges may move this far (pixels) without counting: breathing, a jaw that drops a little. */
const EDGE_SLACK_PX = 2;
/** Gradient differences below this (luma units) are noise: compression, grain. */
const EDGE_NOISE = 10;
/** Lower bound of the normaliser per region pixel, so a flat region cannot divide by ~0. */
const MIN_EDGE_PER_PIXEL = 3;
/** A smoothed luma change beyond this is a different surface, not lighting (colour matching takes less). */
const TONE_STEP = 20;

/** One frame's score. */
export interface SeamScore {
  /** Edge energy in the output with no background edge near it, luma units summed. */
  readonly spurious: number;
  /** Edge energy of the background with no output edge near it. */
  readonly missing: number;
  /** Share (%) of the region whose smoothed luma changed by more than TONE_STEP: a patch of something else. */
  readonly changed: number;
  /**
   * The score: 100 x (spurious + missing) / the background's edge energy in the region, plus
   * `changed`. 0 is clean; a paste a tenth of a mouth width off, or a patch of background on
   * the cheek, scores well above 4 (see the known-answer test).
   */
  readonly score: number;
  /** Pixels compared. */
  readonly pixels: number;
}

/** The compared region around a face: rectangle minus the lips ellipse, in frame pixels. */
export interface SeamRegion {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  /**
   * Lips-and-chin ellipse that is left out (what moves when a person talks: the render's
   * own business), its axes along the face: `angle` is the face's roll in radians (the eye
   * line's slope; positive turns the face's downward axis towards -x).
   */
  readonly lips: { readonly cx: number; readonly cy: number; readonly rx: number; readonly ry: number; readonly angle: number };
}

/**
 * The face's roll from its eye line (outer eye corners, the first and fourth alignment
 * points), radians; 0 for faces measured without landmarks.
 */
export function faceRoll(m: FrameMouth): number {
  const a = m.face?.align;
  if (!a || a.length < 8) return 0;
  return Math.atan2(a[7]! - a[1]!, a[6]! - a[0]!);
}

/**
 * The region the metric compares for a face measured as `m`: from above the nose bottom to
 * below the chin, about three mouth widths across (cheeks, jawline, the background beside
 * the jaw), less an ellipse over the lips and the chin, which move when a person talks
 * (a dropping jaw moves the chin by more than the edge slack). On a tilted head the chin
 * lies along the tilted face, so the ellipse turns with the face's roll; upright faces
 * (roll 0) get the axis-aligned ellipse.
 */
export function seamRegion(m: FrameMouth, width: number, height: number): SeamRegion {
  const faceH = Math.max(m.chinY - m.ay, m.width * 0.6);
  const x0 = Math.max(1, Math.floor(m.cx - 1.5 * m.width));
  const x1 = Math.min(width - 1, Math.ceil(m.cx + 1.5 * m.width));
  const y0 = Math.max(1, Math.floor(m.ay - 0.35 * faceH));
  const y1 = Math.min(height - 1, Math.ceil(m.chinY + 0.4 * faceH));
  const angle = faceRoll(m);
  // Distances along the face's downward axis from the mouth centre.
  const chin = (m.chinY - m.cy) / Math.max(0.5, Math.cos(angle));
  const top = -0.35 * m.width;
  const bottom = chin + 0.2 * Math.max(chin, 0.3 * m.width);
  const along = (top + bottom) / 2;
  return { x0, y0, x1, y1, lips: { cx: m.cx - along * Math.sin(angle), cy: m.cy + along * Math.cos(angle), rx: 0.7 * m.width, ry: (bottom - top) / 2, angle } };
}

/**
 * Scores one output frame against its background frame (both luma planes, `width` x
 * `height`) in the region around the face `m`.
 */
export function seamScore(output: Uint8Array, background: Uint8Array, width: number, height: number, m: FrameMouth): SeamScore {
  const r = seamRegion(m, width, height);
  const w = r.x1 - r.x0;
  const h = r.y1 - r.y0;
  if (w < 8 || h < 8) return { spurious: 0, missing: 0, changed: 0, score: 0, pixels: 0 };
  const sOut = smoothed(output, width, r);
  const sBg = smoothed(background, width, r);
  const gOut = gradient(sOut, w, h);
  const gBg = gradient(sBg, w, h);
  const nearOut = windowExtreme(gOut, w, h, EDGE_SLACK_PX, 'max');
  const nearBg = windowExtreme(gBg, w, h, EDGE_SLACK_PX, 'max');
  let spurious = 0;
  let missing = 0;
  let energy = 0;
  let pixels = 0;
  let changed = 0;
  const { cx, cy, rx, ry, angle } = r.lips;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < h; y++) {
    const dy = y + r.y0 - cy;
    for (let x = 0; x < w; x++) {
      const dx = x + r.x0 - cx;
      const nx = (dx * cos + dy * sin) / rx;
      const ny = (dy * cos - dx * sin) / ry;
      if (nx * nx + ny * ny < 1) continue;
      const k = y * w + x;
      pixels++;
      energy += gBg[k]!;
      const s = (y + 1) * (w + 2) + x + 1;
      if (Math.abs(sOut[s]! - sBg[s]!) > TONE_STEP) changed++;
      const extra = gOut[k]! - nearBg[k]! - EDGE_NOISE;
      if (extra > 0) spurious += extra;
      const lost = gBg[k]! - nearOut[k]! - EDGE_NOISE;
      if (lost > 0) missing += lost;
    }
  }
  const norm = Math.max(energy, pixels * MIN_EDGE_PER_PIXEL);
  const changedShare = pixels ? (100 * changed) / pixels : 0;
  return { spurious, missing, changed: changedShare, score: (norm > 0 ? (100 * (spurious + missing)) / norm : 0) + changedShare, pixels };
}

/**
 * The region, one pixel larger on each side, smoothed by a 3x3 box (so neither the Sobel
 * kernel nor the tone test sees compression blocks): (w + 2) x (h + 2) values.
 */
function smoothed(plane: Uint8Array, stride: number, r: SeamRegion): Float32Array {
  const w = r.x1 - r.x0;
  const h = r.y1 - r.y0;
  const sw = w + 2;
  const sh = h + 2;
  const smooth = new Float32Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    const py = r.y0 - 1 + y;
    for (let x = 0; x < sw; x++) {
      const px = r.x0 - 1 + x;
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const row = clamp(py + dy, 0, plane.length / stride - 1) * stride;
        for (let dx = -1; dx <= 1; dx++) sum += plane[row + clamp(px + dx, 0, stride - 1)]!;
      }
      smooth[y * sw + x] = sum / 9;
    }
  }
  return smooth;
}

/** Sobel gradient magnitude of a smoothed (w + 2) x (h + 2) window, for the inner w x h pixels. */
function gradient(smooth: Float32Array, w: number, h: number): Float32Array {
  const sw = w + 2;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const at = (dx: number, dy: number) => smooth[(y + 1 + dy) * sw + (x + 1 + dx)]!;
      const gx = at(1, -1) + 2 * at(1, 0) + at(1, 1) - at(-1, -1) - 2 * at(-1, 0) - at(-1, 1);
      const gy = at(-1, 1) + 2 * at(0, 1) + at(1, 1) - at(-1, -1) - 2 * at(0, -1) - at(1, -1);
      out[y * w + x] = Math.hypot(gx, gy) / 4;
    }
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
