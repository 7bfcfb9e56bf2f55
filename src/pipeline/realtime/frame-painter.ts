import type { FrameRect, JpegEncoder } from '../../compose/jpeg.js';
import type { VideoFrame } from '../../core/frame.js';
import type { AudioConditioning, Renderer } from '../../render/renderer.js';
import type { MouthParams } from '../../visemes/mouth-params.js';
import { measureSpeechRegion } from './patch-region.js';

/** One picture a realtime stage asks for: a loop position with a mouth (and audio input for neural renderers). */
export interface PaintRequest {
  readonly position: number;
  readonly ptsMs: number;
  readonly mouth: MouthParams;
  readonly speaking: boolean;
  /** Only this part of the frame is compressed; the whole frame when absent. */
  readonly region?: FrameRect;
  readonly audio?: Float32Array;
}

/**
 * A video encoder's raw frame input that a painter draws straight into, so the frames never
 * pass through the thread that asked for them.
 */
export interface EncoderInput {
  /** What the encoder reads its frames from (ffmpeg's `-i`), e.g. `unix:/tmp/…/3.sock`. */
  readonly url: string;
  /**
   * Draws one picture (whole frame) and writes it into the input after those asked for
   * before; resolves false when the input had closed (the encoder went). Rejects when the
   * picture could not be drawn.
   */
  write(request: PaintRequest): Promise<boolean>;
  /** Stops the input; pictures not yet written are dropped. */
  close(): void;
}

/** Makes inputs for video encoders and draws pictures straight into them. */
export interface EncoderInputSource {
  /** A fresh input for one encoder (each encoder process reads its own). */
  openEncoderInput(): Promise<EncoderInput>;
}

/** True for painters that draw straight into encoder inputs (those on another thread). */
export function feedsEncoders(painter: FramePainter): painter is FramePainter & EncoderInputSource {
  return typeof painter.openEncoderInput === 'function';
}

/**
 * Draws and compresses one avatar's realtime pictures, on this thread or another. A stage
 * holds one; which kind is chosen by the renderer cache (see `PainterThreads`).
 */
export interface FramePainter {
  readonly width: number;
  readonly height: number;
  /** Where speech changes the picture (measured once); undefined: speech frames are sent whole. */
  readonly speechRegion: FrameRect | undefined;
  /** False once the painter can paint no more (its thread died): the cache builds a new stage. */
  readonly usable: boolean;
  /** For renderers driven by audio: a fresh per-segment feature extractor. */
  createAudioConditioning?(fps: number): AudioConditioning;
  /** The JPEG of one picture. */
  paint(request: PaintRequest): Promise<Buffer>;
  /** One picture as the renderer draws it (I420, whole frame; `region` is ignored); the caller releases it. */
  paintRaw(request: PaintRequest): Promise<VideoFrame>;
  /**
   * A fresh input for one video encoder, fed by this painter's thread (painters on another
   * thread only): raw frames then go from where they are drawn straight to the encoder.
   */
  openEncoderInput?(): Promise<EncoderInput>;
  /** Frees what the painter holds (its renderer, on whichever thread). */
  close(): void;
}

/** Paints on the calling thread with a renderer and a JPEG encoder. */
export class LocalFramePainter implements FramePainter {
  readonly usable = true;
  readonly createAudioConditioning?: (fps: number) => AudioConditioning;

  private constructor(private readonly renderer: Renderer, private readonly jpeg: JpegEncoder, readonly speechRegion: FrameRect | undefined) {
    if (renderer.createAudioConditioning) this.createAudioConditioning = (fps) => renderer.createAudioConditioning!(fps);
  }

  /**
   * Measures the speech region of `renderer` over an idle loop of `loopFrames` at `fps`
   * (unless `measureRegion` is false: speech frames are then sent whole). A renderer driven
   * by audio ignores the mouth parameters the measurement varies: its speech frames are sent
   * whole.
   */
  static async create(renderer: Renderer, jpeg: JpegEncoder, loopFrames: number, fps: number, measureRegion = true): Promise<LocalFramePainter> {
    const region = !measureRegion || renderer.createAudioConditioning ? undefined : await measureSpeechRegion(renderer, loopFrames, fps);
    return new LocalFramePainter(renderer, jpeg, region);
  }

  get width(): number {
    return this.renderer.width;
  }

  get height(): number {
    return this.renderer.height;
  }

  async paint(r: PaintRequest): Promise<Buffer> {
    const frame = await this.renderer.render({ index: r.position, ptsMs: r.ptsMs, mouth: r.mouth, speaking: r.speaking, ...(r.audio ? { audio: r.audio } : {}) });
    try {
      return await this.jpeg.encode(frame, r.region);
    } finally {
      frame.release?.();
    }
  }

  async paintRaw(r: PaintRequest): Promise<VideoFrame> {
    return this.renderer.render({ index: r.position, ptsMs: r.ptsMs, mouth: r.mouth, speaking: r.speaking, ...(r.audio ? { audio: r.audio } : {}) });
  }

  close(): void {
    // The renderer's buffers are garbage collected with it.
  }
}
