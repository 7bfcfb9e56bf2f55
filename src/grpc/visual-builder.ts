import type { ModelContract } from '../render/onnx/contracts.js';
import { visualLayout, type SquareCrop } from '../render/onnx/face-crop.js';

/** Bilinear taps along one axis: for each model pixel, the two frame pixels and the weight of the second. */
interface Taps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly f: Float32Array;
}

/** Taps of `count` model pixels from `origin`, `step` frame pixels apart, clamped to 0..limit-1. */
function taps(origin: number, step: number, count: number, limit: number): Taps {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const f = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let p = origin + (i + 0.5) * step - 0.5;
    p = p < 0 ? 0 : p > limit - 1 ? limit - 1 : p;
    lo[i] = Math.floor(p);
    hi[i] = lo[i]! + 1 < limit ? lo[i]! + 1 : lo[i]!;
    f[i] = p - lo[i]!;
  }
  return { lo, hi, f };
}

/**
 * Writes one frame's visual input (6 x size x size) as UINT8 into `out` at `offset`, from
 * a packed RGB frame: the face crop resampled bilinearly, as the reference and masked
 * halves in the contract's order and channel order (the bytes / 255 are the model's 0..1
 * input, as writeVisualInput makes it from I420 frames).
 */
export function writeVisualBytes(rgb: Uint8Array, width: number, height: number, crop: SquareCrop, contract: ModelContract, out: Uint8Array, offset: number): void {
  const s = contract.size;
  const { plane, masked, reference, rgb: order, mask: [mx1, my1, mx2, my2] } = visualLayout(contract, offset);
  const step = crop.side / s;
  const xs = taps(crop.x, step, s, width);
  const ys = taps(crop.y, step, s, height);
  const stride = width * 3;
  for (let y = 0; y < s; y++) {
    const top = ys.lo[y]! * stride;
    const bottom = ys.hi[y]! * stride;
    const fy = ys.f[y]!;
    const rowHidden = y >= my1 && y < my2;
    for (let x = 0; x < s; x++) {
      const left = xs.lo[x]! * 3;
      const right = xs.hi[x]! * 3;
      const fx = xs.f[x]!;
      const p = y * s + x;
      const hidden = rowHidden && x >= mx1 && x < mx2;
      for (let k = 0; k < 3; k++) {
        const a = rgb[top + left + k]!;
        const c = rgb[bottom + left + k]!;
        const upper = a + (rgb[top + right + k]! - a) * fx;
        const v = upper + (c + (rgb[bottom + right + k]! - c) * fx - upper) * fy + 0.5;
        const at = order[k]! * plane + p;
        out[reference + at] = v;
        out[masked + at] = hidden ? 0 : v;
      }
    }
  }
}
