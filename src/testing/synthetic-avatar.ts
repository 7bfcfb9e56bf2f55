import type { FrameMouth, FrameSource, MouthFile, Point } from '../render/avatar-input.js';
import { ParametricRenderer } from '../render/parametric/parametric-renderer.js';
import { REST_MOUTH } from '../visemes/mouth-params.js';

/** Frames held in memory (I420), as a FrameSource. */
export class MemoryFrameSource implements FrameSource {
  constructor(private readonly frames: readonly Uint8Array[], readonly width: number, readonly height: number) {}

  get frameCount(): number {
    return this.frames.length;
  }

  frame(index: number): Promise<Uint8Array> {
    const f = this.frames[index];
    return f ? Promise.resolve(f) : Promise.reject(new RangeError(`frame ${index} of ${this.frames.length}`));
  }

  peek(index: number): Uint8Array | undefined {
    return this.frames[index];
  }
}

/**
 * A small avatar made from the built-in drawn face, without files or a face mesh: `frames`
 * idle frames and mouth geometry taken from where the drawn renderer puts the mouth, with
 * the measured opening rising and falling over the frames (as a talking video's would).
 * For exercising the `warp` and `select` renderers in tests.
 */
export async function syntheticAvatar(size = 256, frames = 8): Promise<{ frames: MemoryFrameSource; mouth: MouthFile }> {
  const drawn = new ParametricRenderer(size, size);
  const pictures: Uint8Array[] = [];
  const mouths: FrameMouth[] = [];
  const [x, y, w, h] = drawn.mouthRegion;
  const cx = x + w / 2;
  const cy = y + h / 3;
  const width = w * 0.6;
  for (let i = 0; i < frames; i++) {
    const open = (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frames));
    const frame = drawn.render({ index: i, ptsMs: i * 40, speaking: open > 0, mouth: { ...REST_MOUTH, jawOpen: open, closure: open > 0 ? 0 : 1 } });
    pictures.push(frame.data.slice());
    frame.release?.();
    mouths.push({ cx, cy, width, open: open * width * 0.3, ax: cx, ay: cy - h * 0.5, chinY: cy + h * 0.8 });
  }
  const line = (dy: number): Point[] => Array.from({ length: 7 }, (_, k) => {
    const t = k / 6;
    return [cx - width / 2 + t * width, cy + dy * Math.sin(Math.PI * t)] as const;
  });
  return {
    frames: new MemoryFrameSource(pictures, size, size),
    mouth: { version: 1, frames: mouths, lips: { upperInner: line(-1), lowerInner: line(1), upperOuter: line(-4), lowerOuter: line(4) }, estimated: true },
  };
}
