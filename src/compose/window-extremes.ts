/**
 * Greyscale erosion and dilation: the minimum or maximum of a plane of values over a
 * (2r+1)-square window, separably (rows, then columns); the window is cut at the plane's
 * edges, so what lies beyond them counts for nothing.
 */
export function windowExtreme(values: Float32Array, w: number, h: number, r: number, kind: 'min' | 'max'): Float32Array {
  const max = kind === 'max';
  const rows = new Float32Array(values.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let m = values[y * w + x]!;
      for (let i = Math.max(0, x - r); i <= Math.min(w - 1, x + r); i++) {
        const v = values[y * w + i]!;
        if (max ? v > m : v < m) m = v;
      }
      rows[y * w + x] = m;
    }
  }
  const out = new Float32Array(values.length);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      let m = rows[y * w + x]!;
      for (let j = Math.max(0, y - r); j <= Math.min(h - 1, y + r); j++) {
        const v = rows[j * w + x]!;
        if (max ? v > m : v < m) m = v;
      }
      out[y * w + x] = m;
    }
  }
  return out;
}
