import type { Bounds } from '../../core/geometry.js';

type CropRects = readonly Bounds[];
import type { ModelContract } from './contracts.js';

/** A square face crop in output pixels: top-left corner and side. */
export interface SquareCrop {
  readonly x: number;
  readonly y: number;
  readonly side: number;
}

/** Frames averaged each side when smoothing crop rectangles (jitter in detections, not motion). */
const SMOOTH_RADIUS = 2;

/**
 * Square crops per stored frame from the avatar's crop rectangles: centred on each
 * rectangle, as wide as its longer side, averaged over +/- 2 frames so the crop does not
 * jitter, and scaled to the output size.
 */
export function squareCrops(rects: CropRects, scale: number): SquareCrop[] {
  return rects.map((_, i) => {
    let cx = 0;
    let cy = 0;
    let side = 0;
    let n = 0;
    for (let k = Math.max(0, i - SMOOTH_RADIUS); k <= Math.min(rects.length - 1, i + SMOOTH_RADIUS); k++) {
      const [x1, y1, x2, y2] = rects[k]!;
      cx += (x1 + x2) / 2;
      cy += (y1 + y2) / 2;
      side += Math.max(x2 - x1, y2 - y1);
      n++;
    }
    const s = (side / n) * scale;
    return { x: (cx / n) * scale - s / 2, y: (cy / n) * scale - s / 2, side: s };
  });
}

/** The masked part of a face crop, as fractions of its side: [x1, y1, x2, y2]. */
export function maskBox(contract: ModelContract): readonly [number, number, number, number] {
  // Ultralight and SyncTalk-style models blank a box inside a small border (5..150 of 160).
  return contract.mask === 'lower-half' ? [0, 0.5, 1, 1] : [0.03, 0.03, 0.94, 0.91];
}

/** Where one frame's visual input lies: the start of its masked and reference halves, the plane of red, green and blue, the mask box in crop pixels. */
export interface VisualLayout {
  readonly plane: number;
  readonly masked: number;
  readonly reference: number;
  readonly rgb: readonly [number, number, number];
  readonly mask: readonly [number, number, number, number];
}

/** The layout of a contract's visual input for the frame at `offset`. */
export function visualLayout(contract: ModelContract, offset: number): VisualLayout {
  const s = contract.size;
  const plane = s * s;
  const maskedFirst = contract.halves === 'masked-first';
  return {
    plane, masked: offset + (maskedFirst ? 0 : 3 * plane), reference: offset + (maskedFirst ? 3 * plane : 0),
    rgb: contract.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2],
    mask: maskBox(contract).map((f) => f * s) as [number, number, number, number],
  };
}

/**
 * Writes one frame's visual input (6 x size x size, 0..1) into `out` at `offset`: the face
 * crop of an I420 frame resampled bilinearly, as the masked and reference halves in the
 * contract's order and channel order.
 */
export function writeVisualInput(
  i420: Uint8Array, width: number, height: number, crop: SquareCrop, contract: ModelContract, out: Float32Array, offset: number,
): void {
  const s = contract.size;
  const { plane, masked, reference, rgb: [r, g, b], mask: [mx1, my1, mx2, my2] } = visualLayout(contract, offset);
  const cw = width >> 1;
  const uBase = width * height;
  const vBase = uBase + cw * (height >> 1);
  const step = crop.side / s;
  for (let y = 0; y < s; y++) {
    const sy = crop.y + (y + 0.5) * step - 0.5;
    for (let x = 0; x < s; x++) {
      const sx = crop.x + (x + 0.5) * step - 0.5;
      const Y = bilinear(i420, 0, width, width, height, sx, sy) - 16;
      const U = bilinear(i420, uBase, cw, cw, height >> 1, (sx - 0.5) / 2, (sy - 0.5) / 2) - 128;
      const V = bilinear(i420, vBase, cw, cw, height >> 1, (sx - 0.5) / 2, (sy - 0.5) / 2) - 128;
      const yy = Y * (255 / 219);
      const uu = U * (255 / 224);
      const vv = V * (255 / 224);
      const red = unit(yy + 1.5748 * vv);
      const green = unit(yy - 0.1873 * uu - 0.4681 * vv);
      const blue = unit(yy + 1.8556 * uu);
      const p = y * s + x;
      const hidden = x >= mx1 && x < mx2 && y >= my1 && y < my2;
      out[reference + r * plane + p] = red;
      out[reference + g * plane + p] = green;
      out[reference + b * plane + p] = blue;
      out[masked + r * plane + p] = hidden ? 0 : red;
      out[masked + g * plane + p] = hidden ? 0 : green;
      out[masked + b * plane + p] = hidden ? 0 : blue;
    }
  }
}

function unit(v: number): number {
  return v < 0 ? 0 : v > 255 ? 1 : v / 255;
}

/** Bilinear sample of one 8-bit plane with edge clamping. */
export function bilinear(data: Uint8Array, base: number, stride: number, w: number, h: number, x: number, y: number): number {
  const cx = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  const cy = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = x0 + 1 < w ? x0 + 1 : x0;
  const y1 = y0 + 1 < h ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const a = data[base + y0 * stride + x0]!;
  const b = data[base + y0 * stride + x1]!;
  const c = data[base + y1 * stride + x0]!;
  const d = data[base + y1 * stride + x1]!;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * Maps a Wav2Lip mel window [80 bands, 16 frames] onto a contract's audio shape when its
 * model takes other features and no audio encoder is configured: the window resized
 * bilinearly onto [C*H rows, W columns] (rows follow frequency, columns time). A stand-in
 * with the right shape and timing, not a hubert/wenet embedding.
 */
export function melToAudioShape(mel: Float32Array, shape: readonly number[], out: Float32Array, offset: number): void {
  const cols = shape.at(-1)!;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  for (let r = 0; r < rows; r++) {
    const fy = Math.min(79, Math.max(0, ((r + 0.5) * 80) / rows - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(79, y0 + 1);
    const wy = fy - y0;
    for (let c = 0; c < cols; c++) {
      const fx = Math.min(15, Math.max(0, ((c + 0.5) * 16) / cols - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(15, x0 + 1);
      const wx = fx - x0;
      const top = mel[y0 * 16 + x0]! * (1 - wx) + mel[y0 * 16 + x1]! * wx;
      const bottom = mel[y1 * 16 + x0]! * (1 - wx) + mel[y1 * 16 + x1]! * wx;
      out[offset + r * cols + c] = top * (1 - wy) + bottom * wy;
    }
  }
}
