/**
 * Greyscale erosion and dilation: the minimum or maximum of a plane of values over a
 * (2r+1)-square window, separably (rows, then columns); the window is cut at the plane's
 * edges, so what lies beyond them counts for nothing.
 */
export function windowExtreme(values: Float32Array, w: number, h: number, r: number, kind: 'min' | 'max'): Float32Array {
  const rows = new Float32Array(values.length);
  slide(values, rows, h, w, w, 1, r, kind === 'max');
  const out = new Float32Array(values.length);
  slide(rows, out, w, h, 1, w, r, kind === 'max');
  return out;
}

/**
 * One separable pass: along each of `lines` lines (starting `lineStep` apart) of `length`
 * values (`step` apart), each value becomes the extreme of those within `r` of it.
 */
function slide(src: Float32Array, dst: Float32Array, lines: number, length: number, lineStep: number, step: number, r: number, max: boolean): void {
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    for (let i = 0; i < length; i++) {
      let m = src[base + i * step]!;
      for (let k = Math.max(0, i - r); k <= Math.min(length - 1, i + r); k++) {
        const v = src[base + k * step]!;
        if (max ? v > m : v < m) m = v;
      }
      dst[base + i * step] = m;
    }
  }
}
