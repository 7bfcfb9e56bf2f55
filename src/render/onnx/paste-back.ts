import { ColourMatch } from '../../compose/mouth-blend.js';
import type { ModelContract } from './contracts.js';
import type { SquareCrop } from './face-crop.js';

/** The lower-face ellipse the model output replaces, as fractions of the crop side. */
export const PASTE_ELLIPSE = { cx: 0.5, cy: 0.72, rx: 0.4, ry: 0.3 } as const;
/** Share of the ellipse radius over which the model output fades into the frame. */
const FEATHER = 0.4;
/** Largest per-pixel difference that counts as a lighting change when matching colour. */
const MAX_LIGHTING_STEP = 24;

/**
 * Pastes a model output (3 x size x size in 0..1, the contract's channel order) into an
 * I420 frame over the crop: inside a feathered lower-face ellipse only (the rest of the
 * crop stays the original frame, so no box edge shows), with the output's mean colour in
 * the feather ring matched to the frame's (smoothed over frames by `match`).
 */
export function pasteBack(
  output: Float32Array, offset: number, contract: ModelContract, crop: SquareCrop,
  frame: Uint8Array, width: number, height: number, match: ColourMatch,
): void {
  const s = contract.size;
  const plane = s * s;
  const [ri, gi, bi] = contract.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  // The output as YUV at model resolution.
  const yuv = [new Float32Array(plane), new Float32Array(plane), new Float32Array(plane)] as const;
  for (let p = 0; p < plane; p++) {
    const r = clamp01(output[offset + ri * plane + p]!) * 255;
    const g = clamp01(output[offset + gi * plane + p]!) * 255;
    const b = clamp01(output[offset + bi * plane + p]!) * 255;
    yuv[0][p] = 16 + (0.2126 * r + 0.7152 * g + 0.0722 * b) * (219 / 255);
    yuv[1][p] = 128 + (-0.1146 * r - 0.3854 * g + 0.5 * b) * (224 / 255);
    yuv[2][p] = 128 + (0.5 * r - 0.4542 * g - 0.0458 * b) * (224 / 255);
  }
  const cw = width >> 1;
  const ch = height >> 1;
  const planes = [
    { base: 0, w: width, h: height, scale: 1 },
    { base: width * height, w: cw, h: ch, scale: 2 },
    { base: width * height + cw * ch, w: cw, h: ch, scale: 2 },
  ];
  planes.forEach((p, index) => {
    const side = crop.side / p.scale;
    const ox = crop.x / p.scale;
    const oy = crop.y / p.scale;
    const ecx = ox + PASTE_ELLIPSE.cx * side;
    const ecy = oy + PASTE_ELLIPSE.cy * side;
    const rx = PASTE_ELLIPSE.rx * side;
    const ry = PASTE_ELLIPSE.ry * side;
    const x0 = Math.max(0, Math.floor(ecx - rx));
    const x1 = Math.min(p.w, Math.ceil(ecx + rx) + 1);
    const y0 = Math.max(0, Math.floor(ecy - ry));
    const y1 = Math.min(p.h, Math.ceil(ecy + ry) + 1);
    if (x1 <= x0 || y1 <= y0) return;
    const toModel = s / side;
    const source = yuv[index]!;
    const mx = (x: number) => (x + 0.5 - ox) * toModel - 0.5;
    const my = (y: number) => (y + 0.5 - oy) * toModel - 0.5;
    // Colour match: mean frame-minus-output difference in the feather ring.
    let sum = 0;
    let n = 0;
    const inner = (1 - FEATHER) ** 2;
    for (let y = y0; y < y1; y += 2) {
      const ny = ((y - ecy) / ry) ** 2;
      for (let x = x0; x < x1; x += 2) {
        const r2 = ((x - ecx) / rx) ** 2 + ny;
        if (r2 < inner || r2 >= 1) continue;
        const d = frame[p.base + y * p.w + x]! - sampleFloat(source, s, mx(x), my(y));
        if (d > MAX_LIGHTING_STEP || d < -MAX_LIGHTING_STEP) continue;
        sum += d;
        n++;
      }
    }
    const shift = match.next(index, n ? sum / n : 0);
    for (let y = y0; y < y1; y++) {
      const row = p.base + y * p.w;
      const ny = ((y - ecy) / ry) ** 2;
      const sy = my(y);
      for (let x = x0; x < x1; x++) {
        const r2 = ((x - ecx) / rx) ** 2 + ny;
        if (r2 >= 1) continue;
        const t = r2 <= inner ? 1 : smooth((1 - Math.sqrt(r2)) / FEATHER);
        const bg = frame[row + x]!;
        const v = bg + (sampleFloat(source, s, mx(x), sy) + shift - bg) * t;
        frame[row + x] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
    }
  });
}

function sampleFloat(data: Float32Array, s: number, x: number, y: number): number {
  const cx = x < 0 ? 0 : x > s - 1 ? s - 1 : x;
  const cy = y < 0 ? 0 : y > s - 1 ? s - 1 : y;
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = x0 + 1 < s ? x0 + 1 : x0;
  const y1 = y0 + 1 < s ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const a = data[y0 * s + x0]!;
  const b = data[y0 * s + x1]!;
  const c = data[y1 * s + x0]!;
  const d = data[y1 * s + x1]!;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}
