import type { AvatarCatalog } from '../../avatars/catalog.js';
import type { FrameRect, JpegEncoder } from '../../compose/jpeg.js';
import type { AudioConditioning, Renderer } from '../../render/renderer.js';
import { REST_MOUTH, type MouthParams } from '../../visemes/mouth-params.js';
import { LocalFramePainter, feedsEncoders, type FramePainter } from './frame-painter.js';
import type { PainterThreads } from './painter-threads.js';
import { RendererShelf, rendererKind } from '../renderer-shelf.js';
import type { DeferredRawPicture, JpegPicture, PictureFormat, RawPicture } from './transport.js';

/** Seconds of idle motion that realtime sessions loop over (forwards, then backwards). */
const IDLE_LOOP_S = 10;

/** Frames of the idle loop at `fps`. */
export function idleLoopFrames(fps: number): number {
  return Math.max(2, Math.round(IDLE_LOOP_S * fps));
}

/**
 * One avatar at one size and frame rate, shared by every session showing it: the
 * painter (renderer and JPEG encoder, on this thread or a painter thread), and the JPEG of
 * each idle frame, encoded once and reused, so a silent session costs no rendering or
 * compression at all.
 *
 * Sessions walk a "motion position" back and forth over the loop; idle frames are the
 * cached pictures at that position, and speech frames are rendered at the same position
 * with a moving mouth, so the head never jumps when speech starts or ends.
 */
export class AvatarStage {
  readonly loopFrames: number;
  private readonly idle: (Promise<Buffer> | undefined)[];

  constructor(readonly avatar: string, private readonly painter: FramePainter, readonly fps: number) {
    this.loopFrames = idleLoopFrames(fps);
    this.idle = new Array<Promise<Buffer> | undefined>(this.loopFrames);
  }

  /** A stage painting on this thread with `renderer` (its speech region measured here). */
  static async local(avatar: string, renderer: Renderer, fps: number, jpeg: JpegEncoder): Promise<AvatarStage> {
    return new AvatarStage(avatar, await LocalFramePainter.create(renderer, jpeg, idleLoopFrames(fps), fps), fps);
  }

  /** The measured speech region, if speech frames are sent as patches. */
  get patchRegion(): FrameRect | undefined {
    return this.painter.speechRegion;
  }

  get width(): number {
    return this.painter.width;
  }

  get height(): number {
    return this.painter.height;
  }

  /** False once its painter can paint no more. */
  get usable(): boolean {
    return this.painter.usable;
  }

  /** A fresh per-segment audio feature extractor when the avatar's renderer is driven by audio. */
  createAudioConditioning(): AudioConditioning | undefined {
    return this.painter.createAudioConditioning?.(this.fps);
  }

  /** True when the idle frame at `position` is already encoded (or being encoded). */
  hasIdle(position: number): boolean {
    return this.idle[position] !== undefined;
  }

  /** The JPEG of the idle frame at a loop position (0..loopFrames-1). */
  idleJpeg(position: number): Promise<Buffer> {
    let cached = this.idle[position];
    if (!cached) {
      cached = this.paint(position, REST_MOUTH, false);
      cached.catch(() => (this.idle[position] = undefined));
      this.idle[position] = cached;
    }
    return cached;
  }

  /**
   * A speech frame: the idle pose at `position` with this mouth. With a measured speech
   * region it is the cached idle JPEG plus a JPEG of that region only (a fraction of the
   * cost); otherwise one whole JPEG.
   */
  async speechFrame(position: number, mouth: MouthParams, audio?: Float32Array): Promise<JpegPicture> {
    const region = this.painter.speechRegion;
    if (!region) return { jpeg: await this.paint(position, mouth, true, undefined, audio) };
    const [base, patch] = await Promise.all([this.idleJpeg(position), this.paint(position, mouth, true, region, audio)]);
    return { jpeg: base, patch: { x: region[0], y: region[1], jpeg: patch } };
  }

  /**
   * The frame at a loop position as the renderer draws it (I420): idle with no mouth given,
   * else speaking. The caller releases it. Raw frames are never cached: a video encoder
   * downstream pays far more per frame than drawing one. A painter on another thread leaves
   * the frame deferred: it is drawn there, straight into the encoder's input.
   */
  async rawFrame(position: number, mouth?: MouthParams, audio?: Float32Array): Promise<RawPicture | DeferredRawPicture> {
    const request = { position, ptsMs: (position * 1000) / this.fps, mouth: mouth ?? REST_MOUTH, speaking: mouth !== undefined, ...(audio ? { audio } : {}) };
    if (feedsEncoders(this.painter)) return { deferred: { painter: this.painter, request } };
    return { i420: await this.painter.paintRaw(request) };
  }

  /** Frees the painter; sessions still holding the stage fail their next paint. */
  close(): void {
    this.painter.close();
  }

  private paint(position: number, mouth: MouthParams, speaking: boolean, region?: FrameRect, audio?: Float32Array): Promise<Buffer> {
    return this.painter.paint({ position, ptsMs: (position * 1000) / this.fps, mouth, speaking, ...(region ? { region } : {}), ...(audio ? { audio } : {}) });
  }
}

/** Stages kept by default: each holds a renderer and up to a loop of idle JPEGs. */
export const DEFAULT_MAX_STAGES = 16;

/**
 * Stages by avatar, size and frame rate, created on first use and kept in a bounded LRU:
 * switching a session to an avatar someone already uses is instant, and a client asking
 * for many sizes and rates cannot grow the cache without end (an evicted stage lives on
 * in the sessions that hold it, and is built afresh for the next one).
 */
export class RendererCache {
  private readonly stages = new Map<string, Promise<AvatarStage>>();
  /** Stages whose building finished, to see whether they are still usable. */
  private readonly built = new Map<string, AvatarStage>();

  /**
   * `threads`: where stages paint when given (see `PainterThreads`); this thread otherwise.
   * `threadsFor`: `raw` sends only stages asked for raw frames (video encoders) there,
   * `jpeg` only those asked for JPEG pictures.
   */
  constructor(private readonly catalog: AvatarCatalog, private readonly jpeg: JpegEncoder, private readonly maxStages = DEFAULT_MAX_STAGES, private readonly threads?: PainterThreads, private readonly threadsFor: 'all' | 'raw' | 'jpeg' = 'all') {
    this.spare = new RendererShelf(catalog, { maxKinds: maxStages });
  }

  /** Stages held now. */
  get size(): number {
    return this.stages.size;
  }

  /** The stage of `avatar` at a size and rate, for sessions that want their pictures as `format` (default `jpeg`). */
  get(avatar: string, request: { width?: number; height?: number; fps: number }, format: PictureFormat = 'jpeg'): Promise<AvatarStage> {
    const onThread = this.threads !== undefined && (this.threadsFor === 'all' || (this.threadsFor === 'raw' ? format === 'i420' : format === 'jpeg'));
    const key = `${rendererKind(avatar, request)}|${onThread ? 'thread' : 'here'}`;
    let stage = this.stages.get(key);
    if (stage && this.built.get(key)?.usable === false) {
      // Its painter thread died: sessions holding it have ended with an error; build anew.
      this.forgetStage(key);
      stage = undefined;
    }
    if (stage) {
      // Most recently used last: Map keeps insertion order.
      this.stages.delete(key);
      this.stages.set(key, stage);
    } else {
      while (this.stages.size >= this.maxStages) this.forgetStage(this.stages.keys().next().value!);
      stage = this.build(avatar, request, onThread);
      const building = stage;
      building.then((s) => {
        if (this.stages.get(key) === building) this.built.set(key, s);
      }, () => {
        if (this.stages.get(key) === building) this.stages.delete(key);
      });
      this.stages.set(key, building);
    }
    return stage;
  }

  /** On a painter thread when asked and the avatar's renderer is not driven by audio; here otherwise. */
  private async build(avatar: string, request: { width?: number; height?: number; fps: number }, threaded: boolean): Promise<AvatarStage> {
    // A thread stage that only video encoders use sends no JPEG patches: no speech region to measure (~0.5 s at 512 px).
    const onThread = threaded ? await this.threads?.open(avatar, request, idleLoopFrames(request.fps), this.threadsFor !== 'raw') : undefined;
    if (onThread) return new AvatarStage(avatar, onThread, request.fps);
    return AvatarStage.local(avatar, await this.catalog.createRenderer(avatar, request), request.fps, this.jpeg);
  }

  /**
   * Removes a stage from the cache. Its painter is not closed here: sessions may still hold
   * the stage, and a painter thread frees the renderer once the stage is garbage collected.
   */
  private forgetStage(key: string): void {
    this.stages.delete(key);
    this.built.delete(key);
  }

  /** Renderers lent to streams, kept for the next one. */
  private readonly spare: RendererShelf;

  /**
   * A renderer for one stream, used by it alone until `checkin`: a finished stream's
   * renderer serves the next one, so its set-up (painting, loading) is paid once.
   */
  checkout(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<Renderer> {
    return this.spare.checkout(avatar, request);
  }

  /** Returns a renderer taken with `checkout`. */
  checkin(avatar: string, request: { width?: number; height?: number; fps: number }, renderer: Renderer): void {
    this.spare.checkin(avatar, request, renderer);
  }

  /** Forgets an avatar (deleted or changed). */
  drop(avatar: string): void {
    for (const key of this.stages.keys()) if (key.startsWith(`${avatar}|`)) this.forgetStage(key);
    this.threads?.forget(avatar);
    this.spare.drop(avatar);
  }
}

