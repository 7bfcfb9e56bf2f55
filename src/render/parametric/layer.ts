import { clamp01 } from '../pixel-math.js';
import type { YuvColor } from '../../core/frame.js';

/**
 * Coverage of a pixel centre by a shape, 0..1. Coordinates are frame pixels. `box`, when
 * present, bounds where coverage can be non-zero: [x0, y0, x1, y1].
 */
export type Coverage = ((x: number, y: number) => number) & { box?: readonly [number, number, number, number] };

/** Attaches a bounding box to a coverage function so painting skips everything outside it. */
export function bounded(coverage: (x: number, y: number) => number, box: readonly [number, number, number, number]): Coverage {
  const c = coverage as Coverage;
  c.box = box;
  return c;
}

/**
 * A rectangle of premultiplied YUVA at luma resolution, painted shape by shape ("over")
 * and then composited into an I420 frame. Chroma is composited from 2x2 averages, which is
 * exact for premultiplied colour. The rectangle is aligned to even coordinates.
 */
export class YuvaLayer {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  private readonly yc: Float32Array;
  private readonly uc: Float32Array;
  private readonly vc: Float32Array;
  private readonly a: Float32Array;

  constructor(x0: number, y0: number, x1: number, y1: number) {
    this.x0 = Math.floor(x0 / 2) * 2;
    this.y0 = Math.floor(y0 / 2) * 2;
    this.w = Math.ceil((x1 - this.x0) / 2) * 2;
    this.h = Math.ceil((y1 - this.y0) / 2) * 2;
    const n = this.w * this.h;
    this.yc = new Float32Array(n);
    this.uc = new Float32Array(n);
    this.vc = new Float32Array(n);
    this.a = new Float32Array(n);
  }

  /** Makes the layer fully transparent again. */
  clear(): void {
    this.yc.fill(0);
    this.uc.fill(0);
    this.vc.fill(0);
    this.a.fill(0);
  }

  /**
   * Paints `color` with `opacity` where `coverage` says, within the pixel box [bx0,bx1)x[by0,by1)
   * (clipped to the layer). `color` may vary per pixel.
   */
  paint(coverage: Coverage, color: YuvColor | ((x: number, y: number) => YuvColor), opacity = 1, clip?: readonly [number, number, number, number]): void {
    const [xs, ys, xe, ye] = this.clip(clip ?? coverage.box);
    const fixed = typeof color === 'function' ? undefined : color;
    for (let y = ys; y < ye; y++) {
      const cy = y + 0.5;
      let i = this.index(xs, y);
      for (let x = xs; x < xe; x++, i++) {
        const cov = coverage(x + 0.5, cy) * opacity;
        if (cov <= 0) continue;
        this.over(i, cov, fixed ?? (color as (x: number, y: number) => YuvColor)(x + 0.5, cy));
      }
    }
  }

  /** The whole pixels [xs, ys, xe, ye) of a box in frame pixels that lie in the layer (all of it without a box). */
  clip(box: readonly [number, number, number, number] | undefined): [number, number, number, number] {
    return [
      Math.max(this.x0, Math.floor(box?.[0] ?? this.x0)),
      Math.max(this.y0, Math.floor(box?.[1] ?? this.y0)),
      Math.min(this.x0 + this.w, Math.ceil(box?.[2] ?? this.x0 + this.w)),
      Math.min(this.y0 + this.h, Math.ceil(box?.[3] ?? this.y0 + this.h)),
    ];
  }

  /** Where frame pixel (x, y) is in the layer's planes. */
  index(x: number, y: number): number {
    return (y - this.y0) * this.w + (x - this.x0);
  }

  /** Paints `c` over pixel `i` with coverage `cov` (0..1, already times any opacity). */
  over(i: number, cov: number, c: YuvColor): void {
    const keep = 1 - cov;
    this.yc[i] = c.y * cov + this.yc[i]! * keep;
    this.uc[i] = c.u * cov + this.uc[i]! * keep;
    this.vc[i] = c.v * cov + this.vc[i]! * keep;
    this.a[i] = cov + this.a[i]! * keep;
  }

  /** Composites the layer over an I420 frame of the given size, offset by (dx, dy) luma pixels. */
  compositeInto(frame: Uint8Array, width: number, height: number, dx = 0, dy = 0): void {
    const cw = width >> 1;
    const uBase = width * height;
    const vBase = uBase + cw * (height >> 1);
    const ox = this.x0 + dx;
    const oy = this.y0 + dy;
    for (let ly = 0; ly < this.h; ly++) {
      const fy = oy + ly;
      if (fy < 0 || fy >= height) continue;
      let i = ly * this.w;
      let o = fy * width + ox;
      for (let lx = 0; lx < this.w; lx++, i++, o++) {
        const alpha = this.a[i]!;
        if (alpha <= 0) continue;
        const fx = ox + lx;
        if (fx < 0 || fx >= width) continue;
        frame[o] = this.yc[i]! + frame[o]! * (1 - alpha) + 0.5;
      }
    }
    // Chroma: each chroma sample covers a 2x2 block of luma; the offset is rounded to whole chroma samples.
    const cdx = Math.round(dx / 2);
    const cdy = Math.round(dy / 2);
    for (let ly = 0; ly < this.h; ly += 2) {
      const cy = (this.y0 >> 1) + cdy + (ly >> 1);
      if (cy < 0 || cy >= height >> 1) continue;
      for (let lx = 0; lx < this.w; lx += 2) {
        const i = ly * this.w + lx;
        const j = i + this.w;
        const alpha = (this.a[i]! + this.a[i + 1]! + this.a[j]! + this.a[j + 1]!) * 0.25;
        if (alpha <= 0) continue;
        const cx = (this.x0 >> 1) + cdx + (lx >> 1);
        if (cx < 0 || cx >= cw) continue;
        const o = cy * cw + cx;
        const keep = 1 - alpha;
        frame[uBase + o] = (this.uc[i]! + this.uc[i + 1]! + this.uc[j]! + this.uc[j + 1]!) * 0.25 + frame[uBase + o]! * keep + 0.5;
        frame[vBase + o] = (this.vc[i]! + this.vc[i + 1]! + this.vc[j]! + this.vc[j + 1]!) * 0.25 + frame[vBase + o]! * keep + 0.5;
      }
    }
  }
}

/** Coverage of an axis-aligned ellipse, anti-aliased over about one pixel (or `feather`). */
export function ellipse(cx: number, cy: number, rx: number, ry: number, feather = 1): Coverage {
  const irx2 = 1 / (rx * rx);
  const iry2 = 1 / (ry * ry);
  const pad = feather + 1;
  return bounded((x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    const f = dx * dx * irx2 + dy * dy * iry2 - 1;
    const g = 2 * Math.sqrt(dx * dx * irx2 * irx2 + dy * dy * iry2 * iry2) || 1e-6;
    return clamp01(0.5 - f / g / feather);
  }, [cx - rx - pad, cy - ry - pad, cx + rx + pad, cy + ry + pad]);
}

/** Coverage of a thick stroke along a quadratic Bezier curve (p0, control c, p1). */
export function bezierStroke(p0: readonly [number, number], c: readonly [number, number], p1: readonly [number, number], halfWidth: (t: number) => number): Coverage {
  const steps = 24;
  const pts: [number, number, number][] = [];
  for (let k = 0; k <= steps; k++) {
    const t = k / steps;
    const a = (1 - t) * (1 - t);
    const b = 2 * (1 - t) * t;
    const d = t * t;
    pts.push([a * p0[0] + b * c[0] + d * p1[0], a * p0[1] + b * c[1] + d * p1[1], halfWidth(t)]);
  }
  let maxW = 0;
  let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
  for (const [px, py, w] of pts) {
    maxW = Math.max(maxW, w);
    bx0 = Math.min(bx0, px); by0 = Math.min(by0, py); bx1 = Math.max(bx1, px); by1 = Math.max(by1, py);
  }
  const pad = maxW + 1;
  return bounded((x, y) => {
    let best = 0;
    for (let k = 0; k < steps; k++) {
      const [ax, ay, aw] = pts[k]!;
      const [bx, by, bw] = pts[k + 1]!;
      const vx = bx - ax;
      const vy = by - ay;
      const len2 = vx * vx + vy * vy || 1e-9;
      const s = clamp01(((x - ax) * vx + (y - ay) * vy) / len2);
      const px = ax + s * vx - x;
      const py = ay + s * vy - y;
      const cov = clamp01(aw + (bw - aw) * s + 0.5 - Math.sqrt(px * px + py * py));
      if (cov > best) best = cov;
    }
    return best;
  }, [bx0 - pad, by0 - pad, bx1 + pad, by1 + pad]);
}

