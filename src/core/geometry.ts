/** Rectangles in pixels, in the two conventions the project meets. */

/** A rectangle as its top-left corner and size: x, y, width, height. */
export type Box = readonly [x: number, y: number, width: number, height: number];

/** A rectangle as its corners: left, top, right, bottom (right and bottom exclusive). Seed 002's `crop_rects.json` format. */
export type Bounds = readonly [x1: number, y1: number, x2: number, y2: number];

/** The box of some bounds. */
export function boxOfBounds([x1, y1, x2, y2]: Bounds): Box {
  return [x1, y1, x2 - x1, y2 - y1];
}

/** The bounds of a box. */
export function boundsOfBox([x, y, w, h]: Box): Bounds {
  return [x, y, x + w, y + h];
}
