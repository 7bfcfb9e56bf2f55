import type { PastePlan } from './rgb-paste.js';

/** Largest per-pixel difference that counts as a lighting change when matching colour (as pasteIntoRgb). */
const MAX_LIGHTING_STEP = 24;
/** Spacing of the feather-ring samples of the colour match, in pixels both ways. */
const RING_STEP = 4;

/** A paste plan's weights in fixed point: 0..256 for 0..1. */
interface FixedPlan {
  readonly fx: Int32Array;
  readonly fy: Int32Array;
  readonly weight: Int32Array;
  /** Per plan row: first and one past the last column with a non-zero weight. */
  readonly from: Int32Array;
  readonly to: Int32Array;
}

const fixedPlans = new WeakMap<PastePlan, FixedPlan>();

/** The first model row a plan samples. */
export function firstRowOf(plan: PastePlan): number {
  return plan.ys.lo[0]!;
}

function fixed(plan: PastePlan): FixedPlan {
  let f = fixedPlans.get(plan);
  if (f) return f;
  const q = (v: number) => Math.round(v * 256);
  const from = new Int32Array(plan.h);
  const to = new Int32Array(plan.h);
  for (let j = 0; j < plan.h; j++) {
    let a = plan.w;
    let b = 0;
    for (let i = 0; i < plan.w; i++) {
      if (plan.weight[j * plan.w + i]! === 0) continue;
      if (i < a) a = i;
      b = i + 1;
    }
    from[j] = a;
    to[j] = Math.max(a, b);
  }
  f = { fx: Int32Array.from(plan.xs.f, q), fy: Int32Array.from(plan.ys.f, q), weight: Int32Array.from(plan.weight, q), from, to };
  fixedPlans.set(plan, f);
  return f;
}

/** Where a model output's planes lie in its buffer: rows firstRow..size-1 of each, planeStride values apart. */
export interface OutputRows {
  readonly firstRow: number;
  readonly planeStride: number;
}

/**
 * pasteIntoRgb for a UINT8 model output (3 planes at `offset`, holding rows
 * `rows.firstRow`.. of size x size) in integer arithmetic: the same bilinear sampling,
 * colour match and feathered blend with weights in 1/256 steps (within two levels of the
 * float version). The plan must not sample above `rows.firstRow` (see firstRowOf).
 */
export function pasteBytesIntoRgb(output: Uint8Array, offset: number, rows: OutputRows, order: 'bgr' | 'rgb', plan: PastePlan, frame: Uint8Array, width: number): void {
  const { x0, y0, h, w, size, xs, ys } = plan;
  const { fx, fy, weight, from, to } = fixed(plan);
  const start = offset - rows.firstRow * size;
  const [pr, pg, pb] = (order === 'bgr' ? [2, 1, 0] : [0, 1, 2]).map((k) => start + k * rows.planeStride) as [number, number, number];
  // Colour match: mean frame-minus-output difference per channel over the feather ring,
  // every fourth pixel of every fourth row (the mean of ~600 samples; a denser grid costs
  // a tenth of the paste and moves the mean by less than a level).
  const sum = [0, 0, 0];
  const count = [0, 0, 0];
  for (let j = 0; j < h; j += RING_STEP) {
    const r0 = ys.lo[j]! * size;
    const r1 = ys.hi[j]! * size;
    const wy = fy[j]!;
    for (let i = from[j]!; i < to[j]!; i += RING_STEP) {
      const t = weight[j * w + i]!;
      if (t === 0 || t === 256) continue;
      const p = ((y0 + j) * width + x0 + i) * 3;
      const lo = xs.lo[i]!;
      const hi = xs.hi[i]!;
      const wx = fx[i]!;
      for (let c = 0; c < 3; c++) {
        const base = c === 0 ? pr : c === 1 ? pg : pb;
        const diff = frame[p + c]! - sample(output, base + r0, base + r1, lo, hi, wx, wy);
        if (diff > MAX_LIGHTING_STEP || diff < -MAX_LIGHTING_STEP) continue;
        sum[c]! += diff;
        count[c]!++;
      }
    }
  }
  const sr = count[0] ? Math.round(sum[0]! / count[0]) : 0;
  const sg = count[1] ? Math.round(sum[1]! / count[1]) : 0;
  const sb = count[2] ? Math.round(sum[2]! / count[2]) : 0;
  for (let j = 0; j < h; j++) {
    const r0 = ys.lo[j]! * size;
    const r1 = ys.hi[j]! * size;
    const wy = fy[j]!;
    const row = j * w;
    const end = to[j]!;
    let p = ((y0 + j) * width + x0 + from[j]!) * 3;
    for (let i = from[j]!; i < end; i++, p += 3) {
      const t = weight[row + i]!;
      if (t === 0) continue;
      const lo = xs.lo[i]!;
      const hi = xs.hi[i]!;
      const wx = fx[i]!;
      frame[p] = blend(frame[p]!, sample(output, pr + r0, pr + r1, lo, hi, wx, wy) + sr, t);
      frame[p + 1] = blend(frame[p + 1]!, sample(output, pg + r0, pg + r1, lo, hi, wx, wy) + sg, t);
      frame[p + 2] = blend(frame[p + 2]!, sample(output, pb + r0, pb + r1, lo, hi, wx, wy) + sb, t);
    }
  }
}

/** Bilinear sample (rounded to a level) of rows `top` and `bottom` at columns lo, hi with weights in 1/256. */
function sample(data: Uint8Array, top: number, bottom: number, lo: number, hi: number, wx: number, wy: number): number {
  const upper = data[top + lo]! * (256 - wx) + data[top + hi]! * wx;
  const lower = data[bottom + lo]! * (256 - wx) + data[bottom + hi]! * wx;
  return (upper * (256 - wy) + lower * wy + 32768) >> 16;
}

/** bg moved towards v by t / 256, v clamped to 0..255, rounded. */
function blend(bg: number, v: number, t: number): number {
  const c = v < 0 ? 0 : v > 255 ? 255 : v;
  return bg + (((c - bg) * t + 128) >> 8);
}
