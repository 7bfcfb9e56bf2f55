import type { FrameMouth } from '../avatar-input.js';

/** Breathing: the head rises and falls by this many pixels (peak), sub-pixel, period in ms. */
export const BREATH_AMPLITUDE_PX = 0.8;
export const BREATH_PERIOD_MS = 4200;
/** Head offsets are rounded to this step (pixels), so warps can be cached per offset. */
export const HEAD_OFFSET_STEP = 1 / 8;

/** The head's vertical offset at a time: a smooth sine, rounded to HEAD_OFFSET_STEP. */
export function breathOffset(ptsMs: number): number {
  const dy = BREATH_AMPLITUDE_PX * Math.sin((2 * Math.PI * ptsMs) / BREATH_PERIOD_MS);
  return Math.round(dy / HEAD_OFFSET_STEP) * HEAD_OFFSET_STEP;
}

/** An ellipse in luma pixels. */
interface Ellipse {
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
}

/** Share of the radii over which the motion fades to nothing outside the head. */
const FADE = 0.45;

/**
 * Idle motion of the head region only: the head (an ellipse from above the forehead to the
 * neck, found from the mouth, nose and chin) moves by a sub-pixel vertical offset, the
 * motion fading smoothly to zero around it, so the background and the shoulders stay
 * still and nothing jumps by whole pixels. Backward mapping with linear interpolation
 * between rows; cost is the head's bounding box per frame.
 */
export class HeadMotion {
  private readonly planes: { base: number; w: number; x0: number; y0: number; x1: number; y1: number; weight: Float32Array; s: number }[];

  constructor(m: FrameMouth, width: number, private readonly height: number) {
    const face = Math.max(m.chinY - m.ay, 0.5 * m.width);
    // The head: from the chin up about four nose-to-chin heights, about five mouth widths across.
    const head: Ellipse = { cx: m.cx, cy: m.chinY - 1.7 * face, rx: 2.6 * m.width, ry: 2.5 * face };
    const cw = width >> 1;
    const ch = height >> 1;
    this.planes = [
      this.plane(0, width, height, 1, head),
      this.plane(width * height, cw, ch, 2, head),
      this.plane(width * height + cw * ch, cw, ch, 2, head),
    ];
  }

  private plane(base: number, w: number, h: number, s: number, e: Ellipse): HeadMotion['planes'][number] {
    const outer = 1 + FADE;
    const x0 = Math.max(0, Math.floor((e.cx - e.rx * outer) / s));
    const x1 = Math.min(w, Math.ceil((e.cx + e.rx * outer) / s) + 1);
    const y0 = Math.max(0, Math.floor((e.cy - e.ry * outer) / s));
    const y1 = Math.min(h, Math.ceil((e.cy + e.ry * outer) / s) + 1);
    const bw = Math.max(0, x1 - x0);
    const weight = new Float32Array(bw * Math.max(0, y1 - y0));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const nx = ((x + 0.5) * s - e.cx) / e.rx;
        const ny = ((y + 0.5) * s - e.cy) / e.ry;
        const r = Math.sqrt(nx * nx + ny * ny);
        const t = r <= 1 ? 1 : r >= outer ? 0 : 1 - (r - 1) / FADE;
        weight[(y - y0) * bw + x - x0] = t * t * (3 - 2 * t);
      }
    }
    return { base, w, x0, y0, x1, y1, weight, s };
  }

  /** Copies `src` into `dst` (I420) with the head moved down by `dy` luma pixels (up when negative). */
  apply(src: Uint8Array, dst: Uint8Array, dy: number): void {
    dst.set(src.subarray(0, dst.length));
    if (dy === 0) return;
    for (const p of this.planes) {
      const bw = p.x1 - p.x0;
      const h = p.s === 1 ? this.height : this.height >> 1;
      const shift = dy / p.s;
      for (let y = p.y0; y < p.y1; y++) {
        const wrow = (y - p.y0) * bw - p.x0;
        for (let x = p.x0; x < p.x1; x++) {
          const k = p.weight[wrow + x]!;
          if (k === 0) continue;
          const sy = y - shift * k;
          const yc = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
          const yi = Math.floor(yc);
          const y2 = yi + 1 < h ? yi + 1 : yi;
          const f = yc - yi;
          const a = src[p.base + yi * p.w + x]!;
          const v = a + (src[p.base + y2 * p.w + x]! - a) * f;
          dst[p.base + y * p.w + x] = v + 0.5;
        }
      }
    }
  }
}
