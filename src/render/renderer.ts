import type { Box } from '../core/geometry.js';
import type { VideoFrame } from '../core/frame.js';
import type { MouthFrame } from '../visemes/mouth-params.js';

/**
 * A lip-sync engine: turns the mouth parameters of one frame into the picture of that
 * frame. Frame numbers drive idle motion (blinks, head motion, background loops), so the
 * same input always gives the same picture.
 */
export interface Renderer {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Where the mouth is drawn, in output pixels, for analysis: [x, y, width, height]. */
  readonly mouthRegion: Box;
  /** Where a neural renderer's inference runs (`cpu`, `cuda`); absent for the others. */
  readonly executionProvider?: string;
  render(frame: MouthFrame): VideoFrame | Promise<VideoFrame>;
  /**
   * Optional look-ahead: the frames about to be rendered, in order, before their render
   * calls (a sentence at a time in files; nothing in realtime). Renderers that choose
   * among source frames plan the whole run at once here.
   */
  plan?(frames: readonly MouthFrame[]): void;
  /**
   * For renderers driven by audio (neural models): a fresh per-segment feature extractor.
   * The pipeline pushes the same speech it tracks and attaches `features(frame.index)` to
   * each frame as `frame.audio` before `plan` and `render`.
   */
  createAudioConditioning?(fps: number): AudioConditioning;
}

/** Per-frame audio input for renderers driven by audio (neural models). */
export interface AudioConditioning {
  /** Appends speech on the frame clock: sample 0 of the first call is the start of frame 0. */
  push(pcm: Int16Array, sampleRate: number): void;
  /** No more audio: the tail is padded so every frame gets its input. */
  finish(): void;
  /** The model's audio input for frame `index` once enough audio has arrived, else undefined. */
  features(index: number): Float32Array | undefined;
}

/** Parses `512`, `640x480` into an even width and height within sane bounds. */
export function parseSize(size: string | number): { width: number; height: number } {
  const text = String(size).trim().toLowerCase();
  const m = /^(\d+)(?:x(\d+))?$/.exec(text);
  if (!m) throw new Error(`size must look like 512 or 640x480, got "${size}"`);
  const width = Number(m[1]);
  const height = Number(m[2] ?? m[1]);
  for (const v of [width, height]) {
    if (v < 64 || v > 2048 || v % 2 !== 0) throw new Error(`size sides must be even numbers from 64 to 2048, got "${size}"`);
  }
  return { width, height };
}
