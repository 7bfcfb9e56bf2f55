import type { Box } from '../core/geometry.js';
import sharp from 'sharp';

// libvips' operation cache keeps recent results for reuse; frames are new pixels every time,
// so it only costs memory and about a quarter of each call's time on the event loop.
sharp.cache(false);
import type { VideoFrame } from '../core/frame.js';

/** A rectangle of a frame, pixels: [x, y, width, height], all even. */
export type FrameRect = Box;

/** Turns frames into JPEG images (for WebSocket streaming and thumbnails). */
export interface JpegEncoder {
  readonly name: string;
  /** Encodes `frame` (or only `rect` of it); the frame's buffer is no longer read once the promise settles. */
  encode(frame: VideoFrame, rect?: FrameRect): Promise<Buffer>;
}

/**
 * BT.709 limited-range I420 to packed 8-bit RGB, two rows at a time so each chroma sample
 * is converted once per 2x2 block. Fixed point (x256); the clamped array clamps for free.
 */
export function i420ToRgb(frame: VideoFrame, out: Uint8ClampedArray, rect: FrameRect = [0, 0, frame.width, frame.height]): void {
  const { width: w, height: h, data } = frame;
  const [rx, ry, rw, rh] = rect;
  const cw = w >> 1;
  const uBase = w * h;
  const vBase = uBase + cw * (h >> 1);
  for (let y = ry; y < ry + rh; y += 2) {
    const row0 = y * w;
    const row1 = row0 + w;
    const c0 = (y >> 1) * cw;
    let o0 = (y - ry) * rw * 3;
    let o1 = o0 + rw * 3;
    for (let cx = rx >> 1; cx < (rx + rw) >> 1; cx++) {
      const u = data[uBase + c0 + cx]! - 128;
      const v = data[vBase + c0 + cx]! - 128;
      // 255/224 * {1.5748, 0.1873, 0.4681, 1.8556} * 256
      const rv = 460 * v;
      const guv = -55 * u - 137 * v;
      const bu = 543 * u;
      const x = cx << 1;
      let luma = (data[row0 + x]! - 16) * 298;
      out[o0++] = (luma + rv) >> 8; out[o0++] = (luma + guv) >> 8; out[o0++] = (luma + bu) >> 8;
      luma = (data[row0 + x + 1]! - 16) * 298;
      out[o0++] = (luma + rv) >> 8; out[o0++] = (luma + guv) >> 8; out[o0++] = (luma + bu) >> 8;
      luma = (data[row1 + x]! - 16) * 298;
      out[o1++] = (luma + rv) >> 8; out[o1++] = (luma + guv) >> 8; out[o1++] = (luma + bu) >> 8;
      luma = (data[row1 + x + 1]! - 16) * 298;
      out[o1++] = (luma + rv) >> 8; out[o1++] = (luma + guv) >> 8; out[o1++] = (luma + bu) >> 8;
    }
  }
}

/**
 * JPEG through sharp (libvips + libjpeg-turbo, prebuilt npm binaries): the colour
 * conversion runs here, the compression on libuv's thread pool, so the event loop is free
 * while images compress. About 1 ms conversion + 2 ms compression per 512x512 frame.
 */
export class SharpJpegEncoder implements JpegEncoder {
  readonly name = 'sharp';
  private readonly spare: Uint8ClampedArray[] = [];

  constructor(private readonly quality = 80) {}

  async encode(frame: VideoFrame, rect: FrameRect = [0, 0, frame.width, frame.height]): Promise<Buffer> {
    const [, , width, height] = rect;
    const bytes = width * height * 3;
    let rgb = this.spare.pop();
    if (!rgb || rgb.length < bytes) rgb = new Uint8ClampedArray(bytes);
    i420ToRgb(frame, rgb, rect);
    try {
      return await sharp(rgb.subarray(0, bytes), { raw: { width, height, channels: 3 } })
        .jpeg({ quality: this.quality, chromaSubsampling: '4:2:0', optimiseCoding: false })
        .toBuffer();
    } finally {
      if (this.spare.length < 8) this.spare.push(rgb);
    }
  }
}
