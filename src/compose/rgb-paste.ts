import type { SquareCrop } from '../render/onnx/face-crop.js';
import { PASTE_ELLIPSE } from '../render/onnx/paste-back.js';

/** Share of the ellipse radius over which the model output fades into the frame. */
const FEATHER = 0.4;
/** Largest per-pixel difference that counts as a lighting change when matching colour. */
const MAX_LIGHTING_STEP = 24;

/** Bilinear sampling positions along one axis: for each frame pixel, the two model pixels and the weight of the second. */
export interface AxisTaps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly f: Float32Array;
}

function axisTaps(from: number, to: number, origin: number, toModel: number, size: number): AxisTaps {
  const n = to - from;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let m = (from + i + 0.5 - origin) * toModel - 0.5;
    m = m < 0 ? 0 : m > size - 1 ? size - 1 : m;
    const m0 = Math.floor(m);
    lo[i] = m0;
    hi[i] = m0 + 1 < size ? m0 + 1 : m0;
    f[i] = m - m0;
  }
  return { lo, hi, f };
}

/**
 * Where and how strongly a model output lands in a frame, for one crop: the box around
 * the feathered lower-face ellipse, the sampling positions of its rows and columns, and
 * a blend weight per pixel (1 inside, fading over the feather ring, 0 outside). The same
 * for every output pasted on that crop, so it is computed once per background frame.
 */
export interface PastePlan {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  readonly size: number;
  readonly xs: AxisTaps;
  readonly ys: AxisTaps;
  readonly weight: Float32Array;
}

/** The paste plan of a crop for outputs of `size` x `size`; undefined when the ellipse lies outside the frame. */
export function planPaste(crop: SquareCrop, size: number, width: number, height: number): PastePlan | undefined {
  const ecx = crop.x + PASTE_ELLIPSE.cx * crop.side;
  const ecy = crop.y + PASTE_ELLIPSE.cy * crop.side;
  const rx = PASTE_ELLIPSE.rx * crop.side;
  const ry = PASTE_ELLIPSE.ry * crop.side;
  const x0 = Math.max(0, Math.floor(ecx - rx));
  const x1 = Math.min(width, Math.ceil(ecx + rx) + 1);
  const y0 = Math.max(0, Math.floor(ecy - ry));
  const y1 = Math.min(height, Math.ceil(ecy + ry) + 1);
  if (x1 <= x0 || y1 <= y0) return undefined;
  const toModel = size / crop.side;
  const w = x1 - x0;
  const weight = new Float32Array(w * (y1 - y0));
  const inner = (1 - FEATHER) ** 2;
  for (let y = y0; y < y1; y++) {
    const ny = ((y - ecy) / ry) ** 2;
    const row = (y - y0) * w;
    for (let x = x0; x < x1; x++) {
      const r2 = ((x - ecx) / rx) ** 2 + ny;
      if (r2 >= 1) continue;
      weight[row + x - x0] = r2 <= inner ? 1 : smooth((1 - Math.sqrt(r2)) / FEATHER);
    }
  }
  return { x0, y0, w, h: y1 - y0, size, xs: axisTaps(x0, x1, crop.x, toModel, size), ys: axisTaps(y0, y1, crop.y, toModel, size), weight };
}

/**
 * Pastes a model output (3 planes of size x size floats in 0..1 at `offset`, `order`
 * giving which plane is red, green, blue) into a packed RGB frame `width` pixels wide by a
 * paste plan, with the output's mean colour in the feather ring matched to the frame's per
 * channel. Only the ellipse's pixels are touched: the cost is that of the mouth region.
 */
export function pasteIntoRgb(output: Float32Array, offset: number, order: 'bgr' | 'rgb', plan: PastePlan, frame: Uint8Array, width: number): void {
  const { x0, y0, w, h, size, xs, ys, weight } = plan;
  const plane = size * size;
  const y1 = y0 + h;
  const [pr, pg, pb] = (order === 'bgr' ? [2, 1, 0] : [0, 1, 2]).map((k) => offset + k * plane) as [number, number, number];
  // Colour match: mean frame-minus-output difference per channel over every other pixel of the feather ring.
  const sum = [0, 0, 0];
  const count = [0, 0, 0];
  for (let j = 0; j < y1 - y0; j += 2) {
    const r0 = ys.lo[j]! * size;
    const r1 = ys.hi[j]! * size;
    const fy = ys.f[j]!;
    for (let i = 0; i < w; i += 2) {
      const t = weight[j * w + i]!;
      if (t === 0 || t === 1) continue;
      const p = ((y0 + j) * width + x0 + i) * 3;
      const a = r0 + xs.lo[i]!;
      const b = r0 + xs.hi[i]!;
      const cc = r1 + xs.lo[i]!;
      const d = r1 + xs.hi[i]!;
      const fx = xs.f[i]!;
      for (let c = 0; c < 3; c++) {
        const base = c === 0 ? pr : c === 1 ? pg : pb;
        const diff = frame[p + c]! - 255 * bilinear(output, base, a, b, cc, d, fx, fy);
        if (diff > MAX_LIGHTING_STEP || diff < -MAX_LIGHTING_STEP) continue;
        sum[c]! += diff;
        count[c]!++;
      }
    }
  }
  const sr = count[0] ? sum[0]! / count[0] : 0;
  const sg = count[1] ? sum[1]! / count[1] : 0;
  const sb = count[2] ? sum[2]! / count[2] : 0;
  for (let j = 0; j < y1 - y0; j++) {
    const r0 = ys.lo[j]! * size;
    const r1 = ys.hi[j]! * size;
    const fy = ys.f[j]!;
    let p = ((y0 + j) * width + x0) * 3;
    for (let i = 0; i < w; i++, p += 3) {
      const t = weight[j * w + i]!;
      if (t === 0) continue;
      const a = r0 + xs.lo[i]!;
      const b = r0 + xs.hi[i]!;
      const cc = r1 + xs.lo[i]!;
      const d = r1 + xs.hi[i]!;
      const fx = xs.f[i]!;
      frame[p] = blend(frame[p]!, 255 * bilinear(output, pr, a, b, cc, d, fx, fy) + sr, t);
      frame[p + 1] = blend(frame[p + 1]!, 255 * bilinear(output, pg, a, b, cc, d, fx, fy) + sg, t);
      frame[p + 2] = blend(frame[p + 2]!, 255 * bilinear(output, pb, a, b, cc, d, fx, fy) + sb, t);
    }
  }
}

function blend(bg: number, v: number, t: number): number {
  const out = bg + (v - bg) * t;
  return out < 0 ? 0 : out > 255 ? 255 : out + 0.5;
}

/** Bilinear sample of the plane at `base` from its four neighbours a b (top) c d (bottom), clamped to 0..1. */
function bilinear(data: Float32Array, base: number, a: number, b: number, c: number, d: number, fx: number, fy: number): number {
  const va = data[base + a]!;
  const vc = data[base + c]!;
  const top = va + (data[base + b]! - va) * fx;
  const bottom = vc + (data[base + d]! - vc) * fx;
  const v = top + (bottom - top) * fy;
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}
