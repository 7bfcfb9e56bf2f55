import type { Box } from '../../core/geometry.js';
import { regionAround } from '../mouth-region.js';
import type { FrameMouth, MouthFile } from '../avatar-input.js';
import type { FrameSource } from '../avatar-input.js';
import type { VideoFrame } from '../../core/frame.js';
import type { MouthFrame, MouthParams } from '../../visemes/mouth-params.js';
import { breathOffset, HeadMotion, HEAD_OFFSET_STEP } from './head-motion.js';
import { sampleMouthColours, type MouthColours } from './mouth-colours.js';
import type { Renderer } from '../renderer.js';
import { FramePool, pingPong } from '../frame-pool.js';
import { MouthWarp, type WarpGeometry, type WarpPose } from './mouth-warp.js';


/**
 * The `warp` renderer: a photo (or a loop of frames without measured mouth shapes) whose
 * mouth is opened, widened and rounded by a smooth pixel warp; what the photo shows between
 * its lips (teeth) moves with them, and only the rest of the opening is drawn, in colours
 * taken from the photo. The head (not the background) breathes by a sub-pixel offset.
 * Costs about the head region's pixels per frame.
 */
export class WarpRenderer implements Renderer {
  readonly name = 'warp';
  readonly mouthRegion: Box;
  private readonly pool: FramePool;
  private readonly shifted: Uint8Array;
  private readonly warps = new Map<number, MouthWarp>();
  private readonly head: HeadMotion;
  private colours: MouthColours | undefined;

  constructor(
    private readonly frames: FrameSource,
    private readonly mouth: MouthFile,
    /** Scale from stored mouth.json pixels to frame pixels. */
    private readonly scale = 1,
  ) {
    this.pool = new FramePool(frames.width, frames.height);
    this.shifted = new Uint8Array(this.pool.frameBytes);
    const m = this.measure(0);
    this.mouthRegion = regionAround(m, frames.width, frames.height);
    this.head = new HeadMotion(m, frames.width, frames.height);
  }

  get width(): number {
    return this.frames.width;
  }

  get height(): number {
    return this.frames.height;
  }

  async render(frame: MouthFrame): Promise<VideoFrame> {
    const index = pingPong(frame.index, this.frames.frameCount);
    const src = await this.frames.frame(index);
    const dy = breathOffset(frame.ptsMs);
    const { data, release } = this.pool.take();
    const width = this.frames.width;
    const height = this.frames.height;
    this.head.apply(src, this.shifted, dy);
    data.set(this.shifted);
    // Inner-mouth colours come from the photo itself (its lips and skin): grey stays grey.
    this.colours ??= sampleMouthColours(src, width, height, this.geometry(0, 0));
    const warp = this.warpFor(index, dy);
    const pose = warpPose(frame.mouth, this.measure(index).width);
    // Teeth the photo shows belong to the skull (upper) and the jaw (lower): the opening is the jaw's.
    warp.apply(this.shifted, data, this.colours.photoShowsTeeth ? { ...pose, upperRise: pose.upperRise * 0.3, lowerDrop: pose.lowerDrop + pose.upperRise * 0.7 } : pose);
    return { width, height, data, ptsMs: frame.ptsMs, release };
  }

  private measure(index: number): FrameMouth {
    const m = this.mouth.frames[index] ?? this.mouth.frames[0]!;
    const s = this.scale;
    return { cx: m.cx * s, cy: m.cy * s, width: m.width * s, open: m.open * s, ax: m.ax * s, ay: m.ay * s, chinY: m.chinY * s };
  }

  private warpFor(index: number, dy: number): MouthWarp {
    const steps = Math.round(dy / HEAD_OFFSET_STEP);
    const key = index * 64 + steps + 32;
    let warp = this.warps.get(key);
    if (!warp) {
      if (this.warps.size > 64) this.warps.clear();
      warp = new MouthWarp(this.geometry(index, dy), this.frames.width, this.frames.height, this.colours);
      this.warps.set(key, warp);
    }
    return warp;
  }

  /** Lip lines of frame 0 moved to where frame `index` has its mouth. */
  private geometry(index: number, dy: number): WarpGeometry {
    const first = this.measure(0);
    const m = this.measure(index);
    const s = this.scale;
    const move = (line: readonly (readonly [number, number])[]) =>
      line.map(([x, y]) => [x * s + m.cx - first.cx, y * s + m.cy - first.cy + dy] as const);
    const lips = this.mouth.lips;
    return {
      cx: m.cx, cy: m.cy + dy, width: m.width,
      upperInner: move(lips.upperInner), lowerInner: move(lips.lowerInner),
      upperOuter: move(lips.upperOuter), lowerOuter: move(lips.lowerOuter),
      noseY: m.ay + dy, chinY: m.chinY + dy,
    };
  }
}

/** Mouth parameters to pixel displacements for a mouth `mouthWidth` pixels wide. */
export function warpPose(mouth: MouthParams, mouthWidth: number): WarpPose {
  const open = mouth.jawOpen * (1 - smooth(mouth.closure));
  // A wide-open jaw ("aa") opens the lips to about 0.4 of the mouth's width, as a person
  // speaking does (more reads as a shout, and on a photo as a hole).
  const gap = open * 0.4 * mouthWidth;
  return {
    lowerDrop: gap * 0.75,
    upperRise: gap * 0.25,
    widthScale: 1 + 0.24 * (mouth.lipWidth - 0.5) - 0.22 * mouth.rounding,
    teeth: mouth.teeth,
    tongue: mouth.tongue,
  };
}

function smooth(v: number): number {
  const t = v < 0 ? 0 : v > 1 ? 1 : v;
  return t * t * (3 - 2 * t);
}

