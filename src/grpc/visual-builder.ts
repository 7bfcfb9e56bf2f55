import type { ModelContract } from '../render/onnx/contracts.js';
import { maskBox, type SquareCrop } from '../render/onnx/face-crop.js';

/**
 * Writes one frame's visual input (6 x size x size) as UINT8 into `out` at `offset`, from
 * a packed RGB frame: the face crop resampled bilinearly, as the reference and masked
 * halves in the contract's order and channel order (the bytes / 255 are the model's 0..1
 * input, as writeVisualInput makes it from I420 frames).
 */
export function writeVisualBytes(rgb: Uint8Array, width: number, height: number, crop: SquareCrop, contract: ModelContract, out: Uint8Array, offset: number): void {
  const s = contract.size;
  const plane = s * s;
  const maskedFirst = contract.halves === 'masked-first';
  const masked = offset + (maskedFirst ? 0 : 3 * plane);
  const reference = offset + (maskedFirst ? 3 * plane : 0);
  const [r, g, b] = (contract.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2]) as [number, number, number];
  const [mx1, my1, mx2, my2] = maskBox(contract).map((f) => f * s) as [number, number, number, number];
  const step = crop.side / s;
  const stride = width * 3;
  for (let y = 0; y < s; y++) {
    let sy = crop.y + (y + 0.5) * step - 0.5;
    sy = sy < 0 ? 0 : sy > height - 1 ? height - 1 : sy;
    const y0 = Math.floor(sy);
    const y1 = y0 + 1 < height ? y0 + 1 : y0;
    const fy = sy - y0;
    const rowHidden = y >= my1 && y < my2;
    for (let x = 0; x < s; x++) {
      let sx = crop.x + (x + 0.5) * step - 0.5;
      sx = sx < 0 ? 0 : sx > width - 1 ? width - 1 : sx;
      const x0 = Math.floor(sx);
      const x1 = x0 + 1 < width ? x0 + 1 : x0;
      const fx = sx - x0;
      const a = y0 * stride + x0 * 3;
      const bb = y0 * stride + x1 * 3;
      const c = y1 * stride + x0 * 3;
      const d = y1 * stride + x1 * 3;
      const p = y * s + x;
      const hidden = rowHidden && x >= mx1 && x < mx2;
      for (let k = 0; k < 3; k++) {
        const va = rgb[a + k]!;
        const vc = rgb[c + k]!;
        const top = va + (rgb[bb + k]! - va) * fx;
        const v = top + (vc + (rgb[d + k]! - vc) * fx - top) * fy + 0.5;
        const at = k === 0 ? r : k === 1 ? g : b;
        out[reference + at * plane + p] = v;
        out[masked + at * plane + p] = hidden ? 0 : v;
      }
    }
  }
}
