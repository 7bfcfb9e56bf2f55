import type { Box } from '../../core/geometry.js';
import { copyShifted } from '../i420-shift.js';
import { i420FrameBytes, type VideoFrame } from '../../core/frame.js';
import type { MouthFrame } from '../../visemes/mouth-params.js';
import type { Renderer } from '../renderer.js';
import { paintBase } from './base-painter.js';
import { EyePainter } from './eye-painter.js';
import { DESIGN, FaceLayout } from './face-design.js';
import { IdleMotion } from './idle-motion.js';
import { smoothstep } from '../pixel-math.js';
import { MouthPainter } from './mouth-painter.js';

/**
 * The built-in drawn avatar. The static picture is painted once per size; each frame
 * copies it with the head's idle offset, drops the jaw by warping the lower face, and
 * paints the mouth and eyes into small layers. At 512x512 an idle frame costs ~0.15 ms and a
 * speaking frame ~1 ms (the jaw warp and the mouth layer are most of it).
 */
export class ParametricRenderer implements Renderer {
  readonly name = 'parametric';
  readonly width: number;
  readonly height: number;
  readonly mouthRegion: Box;
  private readonly base: Uint8Array;
  private readonly layout: FaceLayout;
  private readonly mouth: MouthPainter;
  private readonly eyes: EyePainter[];
  private readonly idle: IdleMotion;
  private readonly jaw: JawWarp;
  private readonly pool: { data: Uint8Array; headX: number; headY: number }[] = [];
  /** Everything a frame draws over the base, in head coordinates. */
  private readonly dirtyRects: Rect[];

  constructor(width: number, height: number, options: { seed?: number } = {}) {
    this.width = width;
    this.height = height;
    this.layout = new FaceLayout(width, height);
    this.base = sharedBase(this.layout, width, height);
    this.mouth = new MouthPainter(this.layout);
    this.eyes = [new EyePainter(this.layout, -1), new EyePainter(this.layout, 1)];
    this.idle = new IdleMotion(this.layout.scale, options.seed);
    this.jaw = new JawWarp(this.layout);
    const layerRect = (l: { x0: number; y0: number; w: number; h: number }): Rect => [l.x0, l.y0, l.x0 + l.w, l.y0 + l.h];
    this.dirtyRects = [this.jaw.rect, layerRect(this.mouth.layer), ...this.eyes.map((e) => layerRect(e.layer))];
    // Head motion moves the mouth by a few pixels: the analysis box allows for it.
    const [x, y, w, h] = this.mouth.region;
    const slack = Math.ceil(4 * this.layout.scale);
    this.mouthRegion = [Math.max(0, x - slack), Math.max(0, y - slack), Math.min(width, w + 2 * slack), Math.min(height, h + 2 * slack)];
  }

  render(frame: MouthFrame): VideoFrame {
    const { width, height } = this;
    const pose = this.idle.at(frame.ptsMs);
    const buffer = this.pool.pop() ?? { data: new Uint8Array(i420FrameBytes(width, height)), headX: NaN, headY: NaN };
    const out = buffer.data;
    if (buffer.headX === pose.headX && buffer.headY === pose.headY) {
      // A recycled frame with the same head offset differs from the base only where the
      // last frame drew: restore those rectangles instead of copying the whole picture.
      for (const rect of this.dirtyRects) copyRect(this.base, out, width, height, rect, pose.headX, pose.headY);
    } else {
      copyShifted(this.base, out, width, height, pose.headX, pose.headY);
      buffer.headX = pose.headX;
      buffer.headY = pose.headY;
    }
    this.jaw.apply(this.base, out, frame.mouth.jawOpen * (1 - smoothstep(0.3, 0.95, frame.mouth.closure)), pose.headX, pose.headY);
    this.mouth.paint(frame.mouth);
    this.mouth.layer.compositeInto(out, width, height, pose.headX, pose.headY);
    for (const eye of this.eyes) {
      eye.paint(pose.blink, pose.gazeX, pose.gazeY);
      eye.layer.compositeInto(out, width, height, pose.headX, pose.headY);
    }
    const release = () => {
      if (this.pool.length < POOL_SIZE) this.pool.push(buffer);
    };
    return { width, height, data: out, ptsMs: frame.ptsMs, release };
  }
}

/**
 * Painted static pictures by size, shared by every renderer of that size (no one writes
 * into them): painting one takes ~100 ms of the event loop, which a server would otherwise
 * spend again for each stream's renderer while live sessions wait.
 */
const BASES = new Map<string, Uint8Array>();
/** Sizes kept; the least recently built goes first. */
const MAX_BASES = 8;

function sharedBase(layout: FaceLayout, width: number, height: number): Uint8Array {
  const key = `${width}x${height}`;
  let base = BASES.get(key);
  if (!base) {
    base = paintBase(layout);
    if (BASES.size >= MAX_BASES) BASES.delete(BASES.keys().next().value!);
    BASES.set(key, base);
  }
  return base;
}

/** Frames kept for reuse once consumers release them. */
const POOL_SIZE = 8;

/** A rectangle in head coordinates: [x0, y0, x1, y1). */
type Rect = readonly [number, number, number, number];

/** Copies a rectangle of the base, shifted by (dx, dy), into the same place of an I420 frame. */
function copyRect(src: Uint8Array, dst: Uint8Array, width: number, height: number, rect: Rect, dx: number, dy: number): void {
  const cw = width >> 1;
  const ch = height >> 1;
  const planes: [number, number, number, number, number][] = [
    [0, width, height, dx, dy],
    [width * height, cw, ch, Math.round(dx / 2), Math.round(dy / 2)],
    [width * height + cw * ch, cw, ch, Math.round(dx / 2), Math.round(dy / 2)],
  ];
  for (const [offset, w, h, sx, sy] of planes) {
    const scale = w === width ? 1 : 2;
    const x0 = Math.max(0, Math.floor(rect[0] / scale) + sx, sx);
    const x1 = Math.min(w, Math.ceil(rect[2] / scale) + sx, w + sx);
    const y0 = Math.max(0, Math.floor(rect[1] / scale) + sy, sy);
    const y1 = Math.min(h, Math.ceil(rect[3] / scale) + sy, h + sy);
    if (x1 <= x0) continue;
    for (let y = y0; y < y1; y++) {
      const from = offset + (y - sy) * w + (x0 - sx);
      dst.set(src.subarray(from, from + (x1 - x0)), offset + y * w + x0);
    }
  }
}



/**
 * Drops the jaw: pixels of the lower face move down by up to `maxDrop` design units,
 * fully at the chin, fading out towards the mouth line above and the neck below (so the
 * mapping stays monotonic and nothing tears) and towards the cheeks at the sides.
 */
class JawWarp {
  private readonly x0: number;
  private readonly x1: number;
  private readonly y0: number;
  private readonly y1: number;
  private readonly wx: Float32Array;
  private readonly wy: Float32Array;
  private readonly maxDrop: number;
  /** The area the warp may change: [x0, y0, x1, y1). */
  readonly rect: Rect;
  private readonly width: number;
  private readonly height: number;

  constructor(L: FaceLayout) {
    const J = DESIGN.jaw;
    this.width = L.width;
    this.height = L.height;
    const cx = L.x(DESIGN.head.cx);
    this.x0 = Math.max(0, Math.floor(cx - L.len(J.outerHalfWidth)) & ~1);
    this.x1 = Math.min(L.width, Math.ceil(cx + L.len(J.outerHalfWidth)));
    this.y0 = Math.max(0, Math.floor(L.y(J.fromY)) & ~1);
    this.y1 = Math.min(L.height, Math.ceil(L.y(J.toY)));
    this.maxDrop = L.len(J.maxDrop);
    this.rect = [this.x0, this.y0, this.x1, this.y1];
    this.wx = new Float32Array(this.x1 - this.x0);
    for (let x = this.x0; x < this.x1; x++) {
      const d = Math.abs(x + 0.5 - cx);
      this.wx[x - this.x0] = 1 - smoothstep(L.len(J.innerHalfWidth), L.len(J.outerHalfWidth), d);
    }
    this.wy = new Float32Array(this.y1 - this.y0);
    for (let y = this.y0; y < this.y1; y++) {
      const v = y + 0.5;
      this.wy[y - this.y0] = v < L.y(J.fullY) ? smoothstep(L.y(J.fromY), L.y(J.fullY), v) : v < L.y(J.chinY) ? 1 : 1 - smoothstep(L.y(J.chinY), L.y(J.toY), v);
    }
  }

  apply(base: Uint8Array, out: Uint8Array, amount: number, dx: number, dy: number): void {
    const drop = amount * this.maxDrop;
    if (drop < 0.05) return;
    const w = this.width;
    const h = this.height;
    this.warpPlane(base, out, 0, w, h, 1, drop, dx, dy);
    const cw = w >> 1;
    const ch = h >> 1;
    const cdx = Math.round(dx / 2);
    const cdy = Math.round(dy / 2);
    this.warpPlane(base, out, w * h, cw, ch, 2, drop / 2, cdx, cdy);
    this.warpPlane(base, out, w * h + cw * ch, cw, ch, 2, drop / 2, cdx, cdy);
  }

  /** Warps one plane; `step` is 1 for luma and 2 for chroma (weights are sampled at luma resolution). */
  private warpPlane(base: Uint8Array, out: Uint8Array, offset: number, w: number, h: number, step: number, drop: number, dx: number, dy: number): void {
    const px0 = Math.max(Math.ceil(this.x0 / step), -dx);
    const px1 = Math.min(Math.floor((this.x1 - 1) / step), w - 1 - dx);
    const py0 = Math.ceil(this.y0 / step);
    const py1 = Math.floor((this.y1 - 1) / step);
    const wx = this.wx;
    for (let y = py0; y <= py1; y++) {
      const rowDrop = drop * this.wy[y * step - this.y0]!;
      const oy = y + dy;
      if (rowDrop < 0.02 || oy < 0 || oy >= h) continue;
      const outRow = offset + oy * w + dx;
      for (let x = px0; x <= px1; x++) {
        const d = rowDrop * wx[x * step - this.x0]!;
        if (d < 0.02) continue;
        // The source lies above (y - d): rows above the region stay inside the image.
        const sy = y - d;
        const sy0 = sy | 0;
        const f = sy - sy0;
        const a = base[offset + sy0 * w + x]!;
        const b = base[offset + (sy0 + 1) * w + x]!;
        out[outRow + x] = a + (b - a) * f + 0.5;
      }
    }
  }
}
