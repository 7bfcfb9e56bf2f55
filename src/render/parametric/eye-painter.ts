import { clamp01 } from '../pixel-math.js';
import { ellipse, YuvaLayer } from './layer.js';
import { DESIGN, FaceLayout, PALETTE } from './face-design.js';

/**
 * Draws one eye: white, iris, pupil and highlight, then the upper lid coming down as far as
 * `blink` says (0 open, 1 shut), with its lash line.
 */
export class EyePainter {
  readonly layer: YuvaLayer;
  private readonly cx: number;
  private readonly cy: number;
  private readonly rx: number;
  private readonly ry: number;

  constructor(private readonly L: FaceLayout, side: -1 | 1) {
    const E = DESIGN.eyes;
    this.cx = L.x(DESIGN.head.cx + side * E.dx);
    this.cy = L.y(E.cy);
    this.rx = L.len(E.rx);
    this.ry = L.len(E.ry);
    this.layer = new YuvaLayer(this.cx - this.rx - L.len(6), this.cy - this.ry - L.len(8), this.cx + this.rx + L.len(6), this.cy + this.ry + L.len(6));
  }

  private lastKey = '';

  paint(blink: number, gazeX: number, gazeY: number): void {
    const { L, layer, cx, cy, rx, ry } = this;
    const E = DESIGN.eyes;
    // Eyes hold still most of the time: repaint only when the pose changes.
    const key = `${blink.toFixed(3)}|${gazeX.toFixed(2)}|${gazeY.toFixed(2)}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    layer.clear();
    // Eye shape: an ellipse, slightly flattened at the bottom.
    const white = ellipse(cx, cy, rx, ry);
    const lower = (x: number) => cy + ry * 0.85 * Math.sqrt(clamp01(1 - ((x - cx) / rx) ** 2));
    const shape = (x: number, y: number) => white(x, y) * clamp01(0.5 + lower(x) - y);
    layer.paint(shape, PALETTE.eyeWhite);
    const ix = cx + L.len(gazeX);
    const iy = cy + L.len(gazeY);
    const iris = ellipse(ix, iy, L.len(E.iris), L.len(E.iris));
    const pupil = ellipse(ix, iy, L.len(E.pupil), L.len(E.pupil));
    const ring = { y: 0, u: PALETTE.iris.u, v: PALETTE.iris.v };
    layer.paint((x, y) => shape(x, y) * iris(x, y), (x, y) => {
      const t = clamp01((Math.hypot(x - ix, y - iy) / L.len(E.iris) - 0.55) / 0.45);
      ring.y = PALETTE.iris.y + (PALETTE.irisRim.y - PALETTE.iris.y) * t;
      return ring;
    }, 1, iris.box);
    layer.paint((x, y) => shape(x, y) * pupil(x, y), PALETTE.pupil, 1, pupil.box);
    layer.paint(ellipse(ix - L.len(3.5), iy - L.len(3.5), L.len(2.6), L.len(2.6)), PALETTE.white, 0.9);

    // Upper lid: skin above a curve that slides from the top of the eye to its bottom.
    const lidAt = (x: number) => {
      const arc = Math.sqrt(clamp01(1 - ((x - cx) / (rx * 1.02)) ** 2));
      const top = cy - ry * arc;
      return top + (lower(x) - top) * clamp01(blink);
    };
    const lidZone = ellipse(cx, cy - L.len(2), rx + L.len(3), ry + L.len(5));
    layer.paint((x, y) => lidZone(x, y) * clamp01(0.5 + lidAt(x) - y), PALETTE.skin);
    const lash = L.len(1.7);
    layer.paint((x, y) => {
      const edge = Math.abs(y - lidAt(x));
      const inside = Math.abs(x - cx) < rx * 1.06 ? 1 : 0;
      return inside * clamp01(lash + 0.5 - edge);
    }, PALETTE.lash);
    // Lower lash line, faint.
    layer.paint((x, y) => (Math.abs(x - cx) < rx * 0.95 ? clamp01(0.9 - Math.abs(y - lower(x) - L.len(0.6))) : 0), PALETTE.lash, 0.35);
  }
}
