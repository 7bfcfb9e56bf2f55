import type { LipLines, Point } from '../avatar-input.js';
import { clamp01, smoothstep } from '../pixel-math.js';
import type { MouthColours } from './mouth-colours.js';

/** Where the mouth of a photo is, in luma pixels. */
export interface WarpGeometry extends LipLines {
  /** Lip-corner midpoint and corner-to-corner width. */
  readonly cx: number;
  readonly cy: number;
  readonly width: number;
  /** Bottom of the nose and of the chin: the warp fades out above and below them. */
  readonly noseY: number;
  readonly chinY: number;
  /** x of the bottom of the nose (default: the mouth centre's). */
  readonly noseX?: number;
}

/** How the mouth should look in one frame, in pixels (from MouthParams). */
export interface WarpPose {
  /** Jaw drop at the middle of the lower lip. */
  readonly lowerDrop: number;
  /** Rise of the upper lip at its middle. */
  readonly upperRise: number;
  /** Horizontal scale of the lips about the mouth centre (1: as in the photo). */
  readonly widthScale: number;
  /** Visible teeth and tongue, 0..1. */
  readonly teeth: number;
  readonly tongue: number;
}

/** Inner-mouth colours (BT.709 limited YUV) when none were taken from the photo. */
const DEFAULT_COLOURS: MouthColours = {
  cavity: { y: 38, u: 124, v: 146 }, teeth: { y: 200, u: 126, v: 131 }, tongue: { y: 100, u: 116, v: 162 }, photoShowsTeeth: false,
};
/** Pixels over which the drawn interior fades in from the lips and the photo's own teeth. */
const INTERIOR_EDGE = 2.5;

/**
 * Opens, widens and rounds the mouth of a still face by moving pixels, not by pasting a
 * picture: the lower lip and jaw are pulled down and the upper lip up along a lens-shaped
 * profile that is zero at the lip corners, and the gap between them is filled with a
 * drawn mouth interior (cavity, upper teeth unless the photo shows its own, tongue) in the
 * photo's colours. What lies between the photo's lips (its teeth) moves with the lip it
 * belongs to, so real teeth stay and the drawing fills only the new gap. The displacement fades smoothly to
 * zero towards the nose, past the chin and beside the corners, so no seam or box shows.
 * Backward mapping with bilinear sampling; cost is proportional to the mouth region only.
 *
 * All of this happens in the mouth's own frame: "down" is across the line through the lip
 * corners, so a tilted head opens its mouth along its own axis (in image rows, the lips of
 * a tilted face cross the nose and chin levels, and the opening would cut through a lip).
 */
export class MouthWarp {
  private readonly seam: Float32Array;
  /** Per column: how far the upper lip's outer line lies above the seam (its thickness, and any teeth below it). */
  private readonly upperBand: Float32Array;
  private readonly x0: number;
  private readonly halfWidth: number;
  /** The geometry in the mouth's frame: rotated about the mouth centre so the lip corners are level. */
  private readonly geometry: WarpGeometry;
  private readonly cos: number;
  private readonly sin: number;

  constructor(
    image: WarpGeometry, readonly frameWidth: number, readonly frameHeight: number,
    private readonly colours: MouthColours = DEFAULT_COLOURS,
  ) {
    const angle = mouthAngle(image);
    this.cos = Math.cos(angle);
    this.sin = Math.sin(angle);
    const geometry = this.toMouthFrame(image);
    this.geometry = geometry;
    this.halfWidth = Math.max(4, geometry.width / 2);
    this.x0 = Math.floor(geometry.cx - 2 * this.halfWidth);
    const span = Math.ceil(4 * this.halfWidth) + 2;
    this.seam = new Float32Array(span);
    this.upperBand = new Float32Array(span);
    const upper = sortByX(geometry.upperInner);
    const lower = sortByX(geometry.lowerInner);
    const outer = sortByX(geometry.upperOuter);
    for (let i = 0; i < span; i++) {
      const x = this.x0 + i;
      this.seam[i] = (interpolateY(upper, x) + interpolateY(lower, x)) / 2;
      this.upperBand[i] = Math.max(2, this.seam[i]! - interpolateY(outer, x));
    }
  }

  /** Pixel rectangle (image rows and columns) the warp can touch for a pose: [x0, y0, x1, y1). */
  bounds(pose: WarpPose): [number, number, number, number] {
    const [lx0, ly0, lx1, ly1] = this.mouthFrameBounds(pose);
    const corners = [[lx0, ly0], [lx1, ly0], [lx0, ly1], [lx1, ly1]].map(([x, y]) => this.toImage(x!, y!));
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    return [
      Math.max(0, Math.floor(Math.min(...xs))), Math.max(0, Math.floor(Math.min(...ys))),
      Math.min(this.frameWidth, Math.ceil(Math.max(...xs)) + 1), Math.min(this.frameHeight, Math.ceil(Math.max(...ys)) + 1),
    ];
  }

  /** The region the warp moves, in the mouth's frame: [x0, y0, x1, y1). */
  private mouthFrameBounds(pose: WarpPose): [number, number, number, number] {
    const g = this.geometry;
    const below = (g.chinY - g.cy) * 0.6 + pose.lowerDrop;
    return [this.x0, g.noseY, this.x0 + this.seam.length, g.chinY + below];
  }

  /** Image point to the mouth's frame (rotation about the mouth centre). */
  private toMouthFrame(g: WarpGeometry): WarpGeometry {
    const move = (line: readonly Point[]) => line.map(([x, y]) => this.rotate(x, y, g.cx, g.cy, -1));
    // The chin is taken to lie on the mouth's own vertical through its centre.
    const chinDistance = (g.chinY - g.cy) / Math.max(0.5, this.cos);
    return {
      cx: g.cx, cy: g.cy, width: g.width,
      upperInner: move(g.upperInner), lowerInner: move(g.lowerInner), upperOuter: move(g.upperOuter), lowerOuter: move(g.lowerOuter),
      noseY: this.rotate(g.noseX ?? g.cx, g.noseY, g.cx, g.cy, -1)[1], chinY: g.cy + chinDistance,
    };
  }

  /** Rotates (x, y) about (cx, cy) by the mouth's angle (direction 1) or back (-1). */
  private rotate(x: number, y: number, cx: number, cy: number, direction: 1 | -1): Point {
    const dx = x - cx;
    const dy = y - cy;
    const s = this.sin * direction;
    return [cx + dx * this.cos - dy * s, cy + dx * s + dy * this.cos];
  }

  private toImage(x: number, y: number): Point {
    return this.rotate(x, y, this.geometry.cx, this.geometry.cy, 1);
  }

  /**
   * Writes the warped mouth region of `src` (I420, shifted by dy rows) into `dst`, which
   * already holds the rest of the frame.
   */
  apply(src: Uint8Array, dst: Uint8Array, pose: WarpPose): void {
    const w = this.frameWidth;
    const h = this.frameHeight;
    const [bx0, by0, bx1, by1] = this.bounds(pose);
    this.warpPlane(src, dst, 0, w, h, 1, bx0, by0, bx1, by1, pose, 'y');
    const cw = w >> 1;
    const ch = h >> 1;
    const b = [bx0 >> 1, by0 >> 1, Math.min(cw, (bx1 + 1) >> 1), Math.min(ch, (by1 + 1) >> 1)] as const;
    this.warpPlane(src, dst, w * h, cw, ch, 2, ...b, pose, 'u');
    this.warpPlane(src, dst, w * h + cw * ch, cw, ch, 2, ...b, pose, 'v');
  }

  private warpPlane(
    src: Uint8Array, dst: Uint8Array, base: number, pw: number, ph: number, scale: number,
    x0: number, y0: number, x1: number, y1: number, pose: WarpPose, plane: 'y' | 'u' | 'v',
  ): void {
    const g = this.geometry;
    const [lx0, ly0, lx1, ly1] = this.mouthFrameBounds(pose);
    const { cos, sin } = this;
    const half = this.halfWidth;
    const lensHalf = half * pose.widthScale;
    const chinFade = (g.chinY - g.cy) * 0.6 + 1;
    const lowerLip = Math.max(3, (g.chinY - g.cy) * 0.25);
    const upperLip = Math.max(3, (g.cy - g.noseY) * 0.45);
    const offset = scale === 1 ? 0 : 0.5;
    for (let py = y0; py < y1; py++) {
      const iy = py * scale + offset - g.cy;
      for (let px = x0; px < x1; px++) {
        const ix = px * scale + offset - g.cx;
        // The pixel in the mouth's frame; outside the moved region it keeps its value.
        const x = g.cx + ix * cos + iy * sin;
        const y = g.cy - ix * sin + iy * cos;
        if (x < lx0 || x >= lx1 || y < ly0 || y >= ly1) continue;
        const dxn = (x - g.cx) / half;
        const seam = this.seamAt(x);
        const u = (x - g.cx) / lensHalf;
        const lens = u * u < 1 ? Math.pow(1 - u * u, 0.6) : 0;
        // Horizontal: lips scale about the centre, fading out beside the corners and
        // away from the lip line.
        const band = 1 - smoothstep(0, 1, Math.abs(y - seam) / (y < seam ? upperLip * 1.5 : lowerLip * 2.5));
        const hx = 1 - smoothstep(1.0, 1.8, Math.abs(dxn));
        const sx = 1 + (pose.widthScale - 1) * band * hx;
        const xs = g.cx + (x - g.cx) / sx;
        let ys: number;
        let cavity = 0;
        const top = seam - pose.upperRise * lens;
        const bottom = seam + pose.lowerDrop * lens;
        if (y < seam) {
          // The whole upper lip (outer line to the seam) rises by the full amount, so it
          // shows above the opening as it is; the skin between it and the nose stretches.
          // The stretch keeps at least 40% of the way down from the nose (a thick lip or a
          // short philtrum must not squeeze it into a tear under the nose).
          const lipTop = Math.max(g.noseY + 0.4 * (top - g.noseY), top - Math.max(upperLip * 0.3, this.bandAt(x)));
          const rise = pose.upperRise * lens * smoothstep(g.noseY, Math.max(g.noseY + 1, lipTop), y);
          ys = y + rise;
          if (y > top - 0.5) cavity = clamp01((y - top + 0.5) / INTERIOR_EDGE);
        } else {
          // The jaw drops as a whole (broad profile) while the lip opening stays lens-shaped.
          const jawProfile = 1 - smoothstep(0.9, 2.0, Math.abs(dxn));
          const t = smoothstep(seam, seam + lowerLip * 2.5, y);
          const profile = lens + (jawProfile - lens) * t;
          const fade = y <= g.chinY ? 1 : 1 - smoothstep(g.chinY, g.chinY + chinFade, y);
          ys = y - pose.lowerDrop * profile * fade;
          if (y < bottom + 0.5) cavity = clamp01((bottom + 0.5 - y) / INTERIOR_EDGE);
        }
        if (lens <= 0) cavity = 0;
        // Back to the image: the source point rotated by the mouth's angle.
        const sx0 = xs - g.cx;
        const sy0 = ys - g.cy;
        const sxImage = g.cx + sx0 * cos - sy0 * sin;
        const syImage = g.cy + sx0 * sin + sy0 * cos;
        let value = sampleBilinear(src, base, pw, ph, (sxImage - offset) / scale, (syImage - offset) / scale);
        if (cavity > 0) {
          const inner = this.interiorColour(plane, y, top, bottom, u, pose);
          value += (inner - value) * cavity;
        }
        dst[base + py * pw + px] = value;
      }
    }
  }

  /**
   * The drawn interior at height `y` of an opening from `top` to `bottom`, `u` across it
   * (-1..1, corner to corner): upper teeth, the dark of the cavity, the tongue, blended into
   * one another over a few pixels (hard bands read as painted), darker towards the corners
   * and just under the teeth (their shadow), lighter towards the tongue: depth.
   */
  private interiorColour(plane: 'y' | 'u' | 'v', y: number, top: number, bottom: number, u: number, pose: WarpPose): number {
    const gap = Math.max(1, bottom - top);
    const c = this.colours;
    const teethEdge = c.photoShowsTeeth ? top : top + Math.min(gap * 0.4, this.halfWidth * 0.28) * pose.teeth * (1 - u * u);
    const tongueEdge = bottom - gap * (0.2 + 0.3 * pose.tongue);
    const soft = Math.max(1, gap * 0.12);
    const teeth = 1 - smoothstep(teethEdge - soft / 2, teethEdge + soft / 2, y);
    const tongue = smoothstep(tongueEdge - soft, tongueEdge + soft, y);
    let value = c.cavity[plane] + (c.tongue[plane] - c.cavity[plane]) * tongue;
    value += (c.teeth[plane] - value) * teeth;
    if (plane !== 'y') return value;
    const at = clamp01((y - teethEdge) / Math.max(1, bottom - teethEdge));
    const depth = teeth + (1 - teeth) * (0.7 + 0.5 * at * at);
    const corners = 0.55 + 0.45 * Math.sqrt(Math.max(0, 1 - u * u));
    return value * depth * corners;
  }

  private seamAt(x: number): number {
    return this.atColumn(this.seam, x);
  }

  private bandAt(x: number): number {
    return this.atColumn(this.upperBand, x);
  }

  /** A per-column value (seam, upperBand) at image column x, clamped to the span. */
  private atColumn(values: Float32Array, x: number): number {
    const i = Math.round(x - this.x0);
    return values[i < 0 ? 0 : i >= values.length ? values.length - 1 : i]!;
  }
}

/**
 * Angle of the line through the lip corners (the ends of the outer lip lines), radians,
 * positive when the right corner is lower; 0 when the lines are missing.
 */
function mouthAngle(g: WarpGeometry): number {
  const points = [...g.upperOuter, ...g.lowerOuter, ...g.upperInner, ...g.lowerInner];
  if (points.length < 2) return 0;
  let left = points[0]!;
  let right = points[0]!;
  for (const p of points) {
    if (p[0] < left[0]) left = p;
    if (p[0] > right[0]) right = p;
  }
  if (right[0] - left[0] < 1) return 0;
  return Math.atan2(right[1] - left[1], right[0] - left[0]);
}

function sortByX(points: readonly Point[]): Point[] {
  return [...points].sort((a, b) => a[0] - b[0]);
}

/** y of a polyline at x (held constant beyond its ends). */
function interpolateY(line: readonly Point[], x: number): number {
  if (line.length === 0) return 0;
  if (x <= line[0]![0]) return line[0]![1];
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1]!;
    const b = line[i]!;
    if (x <= b[0]) return a[1] + ((b[1] - a[1]) * (x - a[0])) / Math.max(1e-6, b[0] - a[0]);
  }
  return line[line.length - 1]![1];
}

/** Bilinear sample of one plane, clamped at the edges. */
export function sampleBilinear(src: Uint8Array, base: number, w: number, h: number, x: number, y: number): number {
  const xc = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  const yc = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const xi = Math.floor(xc);
  const yi = Math.floor(yc);
  const fx = xc - xi;
  const fy = yc - yi;
  const x1 = xi + 1 < w ? xi + 1 : xi;
  const y1 = yi + 1 < h ? yi + 1 : yi;
  const r0 = base + yi * w;
  const r1 = base + y1 * w;
  const top = src[r0 + xi]! + (src[r0 + x1]! - src[r0 + xi]!) * fx;
  const bottom = src[r1 + xi]! + (src[r1 + x1]! - src[r1 + xi]!) * fx;
  return top + (bottom - top) * fy;
}
