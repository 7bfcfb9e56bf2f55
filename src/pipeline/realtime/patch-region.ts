import type { FrameRect } from '../../compose/jpeg.js';
import type { Renderer } from '../../render/renderer.js';
import { REST_MOUTH, type MouthParams } from '../../visemes/mouth-params.js';

/** Mouths at the edges of what speech does: whatever they change, speech may change. */
const EXTREME_MOUTHS: readonly MouthParams[] = [
  { jawOpen: 1, lipWidth: 1, rounding: 0, closure: 0, teeth: 1, tongue: 1 },
  { jawOpen: 1, lipWidth: 0, rounding: 1, closure: 0, teeth: 0, tongue: 0 },
  { jawOpen: 0.5, lipWidth: 0.5, rounding: 0.5, closure: 0, teeth: 0.5, tongue: 0.5 },
];

/** Positions of the idle loop sampled when measuring. */
const SAMPLES = 24;
/** Slack around what was measured (head motion between samples), pixels. */
const MARGIN = 16;
/** Beyond this share of the frame a patch saves too little to be worth two pictures. */
const MAX_SHARE = 0.5;

/**
 * The part of the picture that speech can change, measured on the renderer itself: idle
 * and speaking frames at the same idle-loop positions are compared and the differing
 * pixels bounded, with a margin, aligned to JPEG blocks (16 px). Outside it a speaking
 * frame equals the idle frame at the same position, so only this patch need be encoded.
 * Undefined when speech changes too much of the picture (or nothing).
 */
export async function measureSpeechRegion(renderer: Renderer, loopFrames: number, fps: number): Promise<FrameRect | undefined> {
  const { width: w, height: h } = renderer;
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  const step = Math.max(1, Math.floor(loopFrames / SAMPLES));
  for (let position = 0; position < loopFrames; position += step) {
    // Live sessions share this thread: let their frames out between samples.
    await new Promise((resolve) => setImmediate(resolve));
    const ptsMs = (position * 1000) / fps;
    const idleFrame = await renderer.render({ index: position, ptsMs, mouth: REST_MOUTH, speaking: false });
    const idle = idleFrame.data.slice();
    idleFrame.release?.();
    for (const mouth of EXTREME_MOUTHS) {
      const frame = await renderer.render({ index: position, ptsMs, mouth, speaking: true });
      const data = frame.data;
      const chromaOffset = w * h;
      const cw = w >> 1;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const i = y * w + x;
          const c = chromaOffset + (y >> 1) * cw + (x >> 1);
          const q = c + cw * (h >> 1);
          if (Math.abs(data[i]! - idle[i]!) > 2 || Math.abs(data[c]! - idle[c]!) > 2 || Math.abs(data[q]! - idle[q]!) > 2) {
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
          }
        }
      }
      frame.release?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (x1 < 0) return undefined;
  const left = Math.max(0, Math.floor((x0 - MARGIN) / 16) * 16);
  const top = Math.max(0, Math.floor((y0 - MARGIN) / 16) * 16);
  const right = Math.min(w, Math.ceil((x1 + 1 + MARGIN) / 16) * 16);
  const bottom = Math.min(h, Math.ceil((y1 + 1 + MARGIN) / 16) * 16);
  const rect: FrameRect = [left, top, (right - left) & ~1, (bottom - top) & ~1];
  return rect[2] * rect[3] > MAX_SHARE * w * h ? undefined : rect;
}
