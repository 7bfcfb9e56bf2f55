import type { MouthParams } from '../../visemes/mouth-params.js';
import { clamp01, smoothstep } from '../pixel-math.js';
import { ellipse, YuvaLayer, type Coverage } from './layer.js';
import { MOUTH_KEYS } from '../../visemes/mouth-params.js';
import { DESIGN, FaceLayout, PALETTE } from './face-design.js';
import type { YuvColor } from '../../core/frame.js';

/** The parts of the mouth painted pixel by pixel, in the order they are painted. */
type MouthPart = 'lowerLip' | 'upperLip' | 'inside' | 'upperTeeth' | 'lowerTeeth' | 'tongue' | 'seam';

/** The mouth's outline at one frame: curves over x, in layer pixels. */
interface MouthShape {
  readonly cx: number;
  readonly cy: number;
  readonly halfWidth: number;
  readonly opening: number;
}

/**
 * Draws lips, inner mouth, teeth and tongue from the mouth parameters. The mouth is four
 * curves across its width (outer and inner edge of each lip), evaluated once per column;
 * coverage is the perpendicular distance to those curves, so edges stay anti-aliased at
 * any opening.
 */
export class MouthPainter {
  readonly layer: YuvaLayer;
  private readonly M = DESIGN.mouth;
  private readonly cols: number;
  private readonly upperOuter: Float32Array;
  private readonly upperInner: Float32Array;
  private readonly lowerInner: Float32Array;
  private readonly lowerOuter: Float32Array;
  private readonly slopeUO: Float32Array;
  private readonly slopeUI: Float32Array;
  private readonly slopeLI: Float32Array;
  private readonly slopeLO: Float32Array;
  /** Per column: within the corners (band coverage), and the fades of the upper teeth, lower teeth and seam towards the corners. */
  private readonly side: Float64Array;
  private readonly upperTeethSide: Float64Array;
  private readonly lowerTeethSide: Float64Array;
  private readonly seamEdge: Float64Array;
  /** Half-width of the seam line, pixels. */
  private readonly seamWidth: number;
  /** This frame's teeth heights and tongue, read by `coverageAt`. */
  private upperTeeth = 0;
  private lowerTeeth = 0;
  private tongue: Coverage | undefined;
  private minY = 0;
  private maxY = 0;

  constructor(private readonly L: FaceLayout) {
    const M = this.M;
    const x0 = L.x(M.cx - M.halfWidth * 1.35);
    const x1 = L.x(M.cx + M.halfWidth * 1.35);
    this.layer = new YuvaLayer(x0, L.y(M.cy - 22), x1, L.y(M.cy + M.maxOpen * 0.7 + 24));
    this.cols = this.layer.w;
    const arrays = () => new Float32Array(this.cols);
    this.upperOuter = arrays();
    this.upperInner = arrays();
    this.lowerInner = arrays();
    this.lowerOuter = arrays();
    this.slopeUO = arrays();
    this.slopeUI = arrays();
    this.slopeLI = arrays();
    this.slopeLO = arrays();
    this.side = new Float64Array(this.cols);
    this.upperTeethSide = new Float64Array(this.cols);
    this.lowerTeethSide = new Float64Array(this.cols);
    this.seamEdge = new Float64Array(this.cols);
    this.seamWidth = L.len(1.1);
  }

  /** Mouth box in head coordinates (before head motion): [x, y, w, h]. */
  get region(): [number, number, number, number] {
    return [this.layer.x0, this.layer.y0, this.layer.w, this.layer.h];
  }

  private last: MouthParams | undefined;

  paint(p: MouthParams): void {
    const { L, M, layer } = this;
    // Silence repeats the same mouth for many frames: the layer from last time is still right.
    if (this.last && MOUTH_KEYS.every((k) => this.last![k] === p[k])) return;
    this.last = p;
    layer.clear();
    const openFactor = 1 - smoothstep(0.3, 0.95, p.closure);
    const shape: MouthShape = {
      cx: L.x(M.cx),
      cy: L.y(M.cy),
      halfWidth: L.len(M.halfWidth) * (0.84 + 0.32 * p.lipWidth - 0.3 * p.rounding),
      opening: L.len(M.maxOpen * p.jawOpen + 7 * p.rounding) * openFactor,
    };
    this.computeCurves(shape, p);
    const { upperInner: ui, lowerInner: li, lowerOuter: lo } = this;
    const x0 = layer.x0;
    const col = (x: number) => Math.min(this.cols - 1, Math.max(0, Math.floor(x - x0)));
    const hw = shape.halfWidth;
    const box: [number, number, number, number] = [shape.cx - hw - 1, this.minY - 1, shape.cx + hw + 1, this.maxY + 1];
    this.computeColumns(shape);
    this.paintPart('lowerLip', box, PALETTE.lowerLip, 1);
    this.paintPart('upperLip', box, PALETTE.upperLip, 1);
    // Lower-lip sheen.
    layer.paint(ellipse(shape.cx, (li[col(shape.cx)]! + lo[col(shape.cx)]!) / 2, shape.halfWidth * 0.35, L.len(2.2), L.len(2)), PALETTE.white, 0.22);

    if (shape.opening > 0.3) {
      const top = ui[col(shape.cx)]!;
      const span = Math.max(1, li[col(shape.cx)]! - top);
      // The inside, darker towards the top: one mutable colour, read at once by `over`.
      const shade = { y: 0, u: PALETTE.mouthInside.u, v: PALETTE.mouthInside.v };
      this.paintPart('inside', [box[0], top - 2, box[2], top + span + 2], (y) => {
        shade.y = PALETTE.mouthInside.y * (0.75 + 0.35 * clamp01((y - top) / span));
        return shade;
      }, 1);
      const visible = 0.35 + 0.65 * p.teeth;
      this.upperTeeth = Math.min(L.len(9), shape.opening * 0.8) * visible;
      this.paintPart('upperTeeth', [box[0], top - 2, box[2], top + this.upperTeeth + 2], PALETTE.teeth, 1);
      this.lowerTeeth = Math.min(L.len(6), shape.opening * 0.35) * p.teeth;
      this.paintPart('lowerTeeth', [box[0], top + span - this.lowerTeeth - 2, box[2], top + span + 2], PALETTE.teeth, 0.9);
      const tongueY = li[col(shape.cx)]! - shape.opening * 0.12;
      this.tongue = ellipse(shape.cx, tongueY, shape.halfWidth * 0.55, Math.max(L.len(2), shape.opening * 0.32));
      this.paintPart('tongue', this.tongue.box!, PALETTE.tongue, 0.45 + 0.55 * p.tongue);
    }
    // The seam between the lips: always there, hidden inside an open mouth.
    this.paintPart('seam', box, PALETTE.lipSeam, 0.75);
    for (const side of [-1, 1]) {
      layer.paint(ellipse(shape.cx + side * shape.halfWidth * 0.99, ui[col(shape.cx + side * shape.halfWidth * 0.98)]!, L.len(2.4), L.len(2), L.len(1.5)), PALETTE.lipSeam, 0.35);
    }
  }

  /** Per-column factors of this frame's shape (columns of the layer, at pixel centres). */
  private computeColumns(shape: MouthShape): void {
    for (let c = 0; c < this.cols; c++) {
      const x = this.layer.x0 + c + 0.5;
      const across = Math.abs(x - shape.cx) / shape.halfWidth;
      this.side[c] = clamp01(shape.halfWidth - Math.abs(x - shape.cx) + 0.5);
      this.upperTeethSide[c] = 1 - smoothstep(0.55, 0.85, across);
      this.lowerTeethSide[c] = 1 - smoothstep(0.45, 0.75, across);
      this.seamEdge[c] = 1 - smoothstep(0.8, 1, across);
    }
  }

  /** Coverage at column `c`, height `y`, of the band from curve `top` down to curve `bottom`, within the corners. */
  private bandAt(top: Float32Array, topSlope: Float32Array, bottom: Float32Array, bottomSlope: Float32Array, c: number, y: number): number {
    return clamp01(0.5 + (y - top[c]!) / topSlope[c]!) * clamp01(0.5 + (bottom[c]! - y) / bottomSlope[c]!) * this.side[c]!;
  }

  /** Coverage of the open inside of the mouth (between the inner lip edges). */
  private innerAt(c: number, y: number): number {
    return this.bandAt(this.upperInner, this.slopeUI, this.lowerInner, this.slopeLI, c, y);
  }

  /**
   * Paints one part of the mouth over the layer within `box`, in a colour (or one per row)
   * times `opacity`. One loop for every part, the part chosen per pixel by `coverageAt`: a
   * coverage function passed in and called per pixel would return each value as a new heap
   * number.
   */
  private paintPart(part: MouthPart, box: readonly [number, number, number, number], color: YuvColor | ((y: number) => YuvColor), opacity: number): void {
    const layer = this.layer;
    const [xs, ys, xe, ye] = layer.clip(box);
    for (let y = ys; y < ye; y++) {
      const cy = y + 0.5;
      const rowColor = typeof color === 'function' ? color(cy) : color;
      for (let x = xs, i = layer.index(xs, y); x < xe; x++, i++) {
        const cov = this.coverageAt(part, x - layer.x0, x + 0.5, cy) * opacity;
        if (cov > 0) layer.over(i, cov, rowColor);
      }
    }
  }

  /** Coverage of `part` at layer column `c` (pixel centre `x`), height `y`, for this frame's curves. */
  private coverageAt(part: MouthPart, c: number, x: number, y: number): number {
    switch (part) {
      case 'lowerLip':
        return this.bandAt(this.upperOuter, this.slopeUO, this.lowerOuter, this.slopeLO, c, y);
      case 'upperLip':
        return this.bandAt(this.upperOuter, this.slopeUO, this.upperInner, this.slopeUI, c, y);
      case 'inside':
        return this.innerAt(c, y);
      case 'upperTeeth':
        return this.innerAt(c, y) * clamp01(0.5 + this.upperInner[c]! + this.upperTeeth * this.upperTeethSide[c]! - y);
      case 'lowerTeeth':
        return this.innerAt(c, y) * clamp01(0.5 + y - (this.lowerInner[c]! - this.lowerTeeth * this.lowerTeethSide[c]!));
      case 'tongue':
        return this.innerAt(c, y) * this.tongue!(x, y);
      case 'seam':
        return clamp01(0.9 - Math.abs(y - this.upperInner[c]!) / this.slopeUI[c]! / this.seamWidth) * this.seamEdge[c]!;
    }
  }

  private computeCurves(shape: MouthShape, p: MouthParams): void {
    const { L, M } = this;
    const upperThick = L.len(M.upperLip) * (1 + 0.35 * p.rounding - 0.2 * (p.lipWidth - 0.5));
    const lowerThick = L.len(M.lowerLip) * (1 + 0.3 * p.rounding - 0.2 * (p.lipWidth - 0.5));
    const smile = L.len(M.smile) * (1 - p.rounding);
    const curvesAt = (x: number): [number, number, number, number] => {
      const u = (x - shape.cx) / shape.halfWidth;
      if (Math.abs(u) >= 1) {
        const y = shape.cy - smile;
        return [y, y, y, y];
      }
      const base = shape.cy - smile * u * u;
      const profile = Math.sqrt(1 - u * u);
      const ui = base - 0.32 * shape.opening * profile;
      const li = base + 0.68 * shape.opening * profile;
      const bow = 1 - 0.3 * Math.exp(-((u / 0.14) ** 2));
      const uo = ui - upperThick * Math.pow(profile, 0.7) * bow - L.len(1.2) * Math.exp(-(((Math.abs(u) - 0.22) / 0.14) ** 2));
      const lo = li + lowerThick * Math.pow(profile, 0.6);
      return [uo, ui, li, lo];
    };
    this.minY = Infinity;
    this.maxY = -Infinity;
    for (let c = 0; c < this.cols; c++) {
      const x = this.layer.x0 + c + 0.5;
      const here = curvesAt(x);
      const left = curvesAt(x - 0.5);
      const right = curvesAt(x + 0.5);
      this.upperOuter[c] = here[0];
      this.upperInner[c] = here[1];
      this.lowerInner[c] = here[2];
      this.lowerOuter[c] = here[3];
      this.slopeUO[c] = Math.hypot(1, right[0] - left[0]);
      this.slopeUI[c] = Math.hypot(1, right[1] - left[1]);
      this.slopeLI[c] = Math.hypot(1, right[2] - left[2]);
      this.slopeLO[c] = Math.hypot(1, right[3] - left[3]);
      this.minY = Math.min(this.minY, here[0]);
      this.maxY = Math.max(this.maxY, here[3]);
    }
  }
}
