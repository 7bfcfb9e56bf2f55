import type { Box } from '../../core/geometry.js';
import type { FrameSource } from '../avatar-input.js';
import type { FrameMouth } from '../avatar-input.js';
import { BLEND_FEATHER, blendEllipse, ColourMatch, strayShare } from '../../compose/mouth-blend.js';
import type { VideoFrame } from '../../core/frame.js';
import type { MouthFrame, MouthParams } from '../../visemes/mouth-params.js';
import { FramePool, pingPong } from '../frame-pool.js';
import type { Renderer } from '../renderer.js';
import { regionAround } from '../mouth-region.js';
import { MouthShapeIndex } from './mouth-shape-index.js';
import { facePaste } from './face-alignment.js';
import { pasteFace } from '../../compose/face-paste.js';

/**
 * Share of a whole-face blend's pixels, beyond the lips, that may differ from the
 * background as another surface would: a resting drawn face stays under 0.15; a real head
 * that moved between donor and background, bringing the window into the face, above 0.3.
 */
const MAX_STRAY_SHARE = 0.25;

/**
 * The `select` renderer, for avatars made from a video of the person talking. For each
 * output frame it picks the source frame whose measured mouth shape best fits the wanted
 * one and whose head pose is closest to the background's, with a cost against needless
 * switching, and pastes that frame's lower face into the current background frame:
 * aligned by a similarity fitted to the eye and nose landmarks, only inside the jaw
 * contour, with a membrane colour correction (see pasteFace). Avatars prepared without
 * face shapes fall back to a nose-aligned, feathered, colour-matched ellipse. The
 * background loops forward and backward, so it never jumps.
 */
export class SelectRenderer implements Renderer {
  readonly name = 'select';
  readonly mouthRegion: Box;
  private readonly pool: FramePool;
  private readonly shapes: MouthShapeIndex;
  private readonly mouths: readonly FrameMouth[];
  private previous = -1;
  /** Source frames planned for upcoming output frames, by output frame index. */
  private readonly planned = new Map<number, number>();
  private readonly colourMatch = new ColourMatch();

  constructor(private readonly frames: FrameSource, mouths: readonly FrameMouth[], scale = 1) {
    this.mouths = mouths.map((m) => ({
      cx: m.cx * scale, cy: m.cy * scale, width: m.width * scale, open: m.open * scale, ax: m.ax * scale, ay: m.ay * scale, chinY: m.chinY * scale,
      ...(m.face ? { face: { ...m.face, align: m.face.align.map((v) => v * scale), jaw: m.face.jaw.map((v) => v * scale) } } : {}),
    }));
    this.pool = new FramePool(frames.width, frames.height);
    this.shapes = new MouthShapeIndex(this.mouths);
    this.mouthRegion = regionAround(this.mouths[0]!, frames.width, frames.height);
  }

  get width(): number {
    return this.frames.width;
  }

  get height(): number {
    return this.frames.height;
  }

  /** Source frame chosen for these mouth parameters (streaming: depends on the previous choice). */
  choose(mouth: MouthParams, background = -1): number {
    this.previous = this.shapes.best(mouth, this.previous, background);
    return this.previous;
  }

  plan(frames: readonly MouthFrame[]): void {
    const count = this.frames.frameCount;
    const path = this.shapes.plan(frames.map((f) => f.mouth), this.previous, frames.map((f) => pingPong(f.index, count)));
    frames.forEach((f, i) => this.planned.set(f.index, path[i]!));
  }

  async render(frame: MouthFrame): Promise<VideoFrame> {
    const count = this.frames.frameCount;
    const background = pingPong(frame.index, count);
    const planned = this.planned.get(frame.index);
    this.planned.delete(frame.index);
    const chosen = planned ?? this.choose(frame.mouth, background);
    this.previous = chosen;
    // Both decodes run at once; the next background starts decoding for the next frame.
    const [bg, src] = await Promise.all([this.frames.frame(background), this.frames.frame(chosen)]);
    void this.frames.frame(pingPong(frame.index + 1, count)).catch(() => undefined);
    const { data, release } = this.pool.take();
    data.set(bg);
    if (chosen !== background) {
      const b = this.mouths[background]!;
      const s = this.mouths[chosen]!;
      const paste = b.face && s.face ? facePaste(b, s) : undefined;
      // A mouth at rest whose donor only needs moving (same size and tilt as the background)
      // is blended whole, nose to below the chin: the two show the same things beside the
      // face, and the background's own talking jaw cannot show through in silence.
      const resting = chosen === this.shapes.restFrame;
      const [dx, dy] = paste ? [-paste.toSource.tx, -paste.toSource.ty] : [b.ax - s.ax, b.ay - s.ay];
      // Fully opaque from the bottom of the nose to below the chin (everything that moves
      // when talking); the fade lies on the nose, the cheeks and the neck, which do not.
      const top = b.ay;
      const bottom = b.chinY + 0.1 * (b.chinY - b.cy);
      const whole = { cx: b.cx, cy: (top + bottom) / 2, rx: b.width * 1.3, ry: (bottom - top) / 2 / (1 - BLEND_FEATHER) };
      const translated = paste && paste.toSource.a === 1 && paste.toSource.b === 0;
      // Blended whole only where the donor shows the same things around the face as the
      // background; when the head has moved between them (the donor's window would come
      // into the face with it), the face alone is pasted.
      const wholeFits = () => strayShare(src, data, this.frames.width, this.frames.height, whole, {
        cx: b.cx, cy: b.cy + 0.15 * b.width, rx: 0.62 * b.width, ry: 0.55 * b.width,
      }, dx, dy) <= MAX_STRAY_SHARE;
      if (paste && (!resting || !translated || !wholeFits())) {
        pasteFace(src, data, this.frames.width, this.frames.height, paste);
        return { width: this.frames.width, height: this.frames.height, data, ptsMs: frame.ptsMs, release };
      }
      blendEllipse(src, data, this.frames.width, this.frames.height, whole, dx, dy, this.colourMatch);
    }
    return { width: this.frames.width, height: this.frames.height, data, ptsMs: frame.ptsMs, release };
  }
}
