import { hexColor, rgbToYuv, type YuvColor } from '../../core/frame.js';

/**
 * The built-in avatar, drawn by the project: a friendly face designed on a 512x512 grid.
 * Every coordinate below is in design units; `FaceLayout` scales and centres it.
 */
export const DESIGN = {
  size: 512,
  head: { cx: 256, cy: 246, rx: 122, ry: 150, chinNarrowing: 0.3 },
  ears: { dx: 121, cy: 262, rx: 17, ry: 30 },
  neck: { x0: 214, x1: 298, y0: 360, y1: 470 },
  torso: { cx: 256, cy: 640, rx: 235, ry: 190 },
  hairBack: { cx: 256, cy: 236, rx: 150, ry: 168, cutY: 410 },
  fringe: { y: 150, tilt: 0.28, depth: 36 },
  brows: { dx: 52, y: 206, halfLength: 27, arch: 8, thickness: 4.2 },
  eyes: { dx: 51, cy: 243, rx: 25, ry: 14.5, iris: 11.5, pupil: 5.2 },
  nose: { cx: 256, cy: 300 },
  cheeks: { dx: 78, cy: 318, rx: 27, ry: 15 },
  mouth: { cx: 256, cy: 348, halfWidth: 39, maxOpen: 44, upperLip: 7, lowerLip: 9.5, smile: 3.5 },
  jaw: { maxDrop: 16, fromY: 350, fullY: 392, chinY: 396, toY: 445, innerHalfWidth: 72, outerHalfWidth: 120 },
} as const;

const yuv = (hex: string): YuvColor => rgbToYuv(hexColor(hex));

/** Colours, converted once to the frames' YUV. */
export const PALETTE = {
  backgroundTop: yuv('#e3edf6'),
  backgroundBottom: yuv('#b7cbe0'),
  shirt: yuv('#3b7d8c'),
  shirtShadow: yuv('#2d6270'),
  skin: yuv('#f2c8a6'),
  skinShadow: yuv('#dfa987'),
  blush: yuv('#ec9a8c'),
  hair: yuv('#4b3325'),
  hairHighlight: yuv('#6a4a36'),
  brow: yuv('#4a3122'),
  eyeWhite: yuv('#fbf8f4'),
  iris: yuv('#4f7a9a'),
  irisRim: yuv('#2f4d63'),
  pupil: yuv('#16120f'),
  lash: yuv('#2a1c14'),
  upperLip: yuv('#bd6266'),
  lowerLip: yuv('#cc7377'),
  lipSeam: yuv('#7d3438'),
  mouthInside: yuv('#4a1619'),
  teeth: yuv('#f3efe6'),
  tongue: yuv('#c7585d'),
  white: yuv('#ffffff'),
} as const;

/** Maps design units to output pixels: uniform scale, face centred in the frame. */
export class FaceLayout {
  readonly scale: number;
  readonly offsetX: number;
  readonly offsetY: number;

  constructor(readonly width: number, readonly height: number) {
    this.scale = Math.min(width, height) / DESIGN.size;
    this.offsetX = (width - DESIGN.size * this.scale) / 2;
    this.offsetY = (height - DESIGN.size * this.scale) / 2;
  }

  x(v: number): number {
    return this.offsetX + v * this.scale;
  }

  y(v: number): number {
    return this.offsetY + v * this.scale;
  }

  len(v: number): number {
    return v * this.scale;
  }
}
