/**
 * Video frames travel through the pipeline as planar YUV 4:2:0 (I420, BT.709, limited
 * range): it is what H.264 encoders consume, half the bytes of RGB, and drawing into it
 * costs no more than drawing into RGB. Width and height are even.
 */
export interface VideoFrame {
  readonly width: number;
  readonly height: number;
  /** Y plane (width*height), then U and V planes ((width/2)*(height/2) each). */
  readonly data: Uint8Array;
  /** Presentation time of the frame, ms from the start of the stream. */
  readonly ptsMs: number;
  /**
   * Hands `data` back to its producer for reuse. Whoever consumes the frame last calls it
   * once it no longer reads `data` (an encoder: when the bytes reached the pipe).
   */
  readonly release?: () => void;
}

/** Bytes of one I420 frame of this size. */
export function i420FrameBytes(width: number, height: number): number {
  return width * height + 2 * (width >> 1) * (height >> 1);
}

/** A colour in the frame's YUV space. */
export interface YuvColor {
  readonly y: number;
  readonly u: number;
  readonly v: number;
}

/** A colour as 8-bit sRGB components. */
export interface RgbColor {
  readonly r: number;
  readonly g: number;
  readonly b: number;
}

/** Converts an 8-bit RGB colour to BT.709 limited-range YUV (the frames' colour space). */
export function rgbToYuv({ r, g, b }: RgbColor): YuvColor {
  const y = 16 + (0.2126 * r + 0.7152 * g + 0.0722 * b) * (219 / 255);
  const u = 128 + (-0.1146 * r - 0.3854 * g + 0.5 * b) * (224 / 255);
  const v = 128 + (0.5 * r - 0.4542 * g - 0.0458 * b) * (224 / 255);
  return { y, u, v };
}

/** Converts a BT.709 limited-range YUV colour back to 8-bit RGB (clamped). */
export function yuvToRgb({ y, u, v }: YuvColor): RgbColor {
  const yy = (y - 16) * (255 / 219);
  const uu = (u - 128) * (255 / 224);
  const vv = (v - 128) * (255 / 224);
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  return {
    r: clamp(yy + 1.5748 * vv),
    g: clamp(yy - 0.1873 * uu - 0.4681 * vv),
    b: clamp(yy + 1.8556 * uu),
  };
}

/** Parses `#rrggbb`. */
export function hexColor(hex: string): RgbColor {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  return { r: parseInt(m[1]!, 16), g: parseInt(m[2]!, 16), b: parseInt(m[3]!, 16) };
}
