/** Whole-pixel translation of I420 frames (idle head motion). */

/** Copies an I420 image offset by (dx, dy) luma pixels, repeating edge pixels into the gap. */
export function copyShifted(src: Uint8Array, dst: Uint8Array, width: number, height: number, dx: number, dy: number): void {
  copyPlane(src, dst, 0, width, height, dx, dy);
  const cw = width >> 1;
  const ch = height >> 1;
  const cdx = Math.round(dx / 2);
  const cdy = Math.round(dy / 2);
  copyPlane(src, dst, width * height, cw, ch, cdx, cdy);
  copyPlane(src, dst, width * height + cw * ch, cw, ch, cdx, cdy);
}

function copyPlane(src: Uint8Array, dst: Uint8Array, base: number, w: number, h: number, dx: number, dy: number): void {
  const size = w * h;
  const shift = dy * w + dx;
  // One block copy puts every pixel in place except the |dx| columns that wrap across row
  // ends and the |dy| rows shifted in: those repeat the nearest edge pixel of the source.
  if (shift >= 0) dst.set(src.subarray(base, base + size - shift), base + shift);
  else dst.set(src.subarray(base - shift, base + size), base);
  if (dx !== 0) {
    for (let y = 0; y < h; y++) {
      const sy = Math.min(h - 1, Math.max(0, y - dy));
      const drow = base + y * w;
      if (dx > 0) dst.fill(src[base + sy * w]!, drow, drow + dx);
      else dst.fill(src[base + sy * w + w - 1]!, drow + w + dx, drow + w);
    }
  }
  for (let y = 0; y < dy; y++) dst.copyWithin(base + y * w, base + dy * w, base + dy * w + w);
  for (let y = h + dy; y < h; y++) dst.copyWithin(base + y * w, base + (h + dy - 1) * w, base + (h + dy) * w);
}
