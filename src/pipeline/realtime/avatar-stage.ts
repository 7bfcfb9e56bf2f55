import type { AvatarCatalog } from '../../avatars/catalog.js';
import type { FrameRect, JpegEncoder } from '../../compose/jpeg.js';
import type { Renderer } from '../../render/renderer.js';
import { REST_MOUTH, type MouthParams } from '../../visemes/mouth-params.js';
import { measureSpeechRegion } from './patch-region.js';
import type { JpegPicture, RawPicture } from './transport.js';

/** Seconds of idle motion that realtime sessions loop over (forwards, then backwards). */
const IDLE_LOOP_S = 10;

/**
 * One avatar at one size and frame rate, shared by every session showing it: the
 * renderer, and the JPEG of each idle frame, encoded once and reused, so a silent
 * session costs no rendering or compression at all.
 *
 * Sessions walk a "motion position" back and forth over the loop; idle frames are the
 * cached pictures at that position, and speech frames are rendered at the same position
 * with a moving mouth, so the head never jumps when speech starts or ends.
 */
export class AvatarStage {
  readonly loopFrames: number;
  private readonly idle: (Promise<Buffer> | undefined)[];
  /** Where speech changes the picture; until measured (or when too large), speech frames are whole. */
  private speechRegion: FrameRect | undefined;

  constructor(readonly avatar: string, readonly renderer: Renderer, readonly fps: number, private readonly jpeg: JpegEncoder) {
    this.loopFrames = Math.max(2, Math.round(IDLE_LOOP_S * fps));
    this.idle = new Array<Promise<Buffer> | undefined>(this.loopFrames);
  }

  /** Measures the speech region (once, when the stage is created). */
  async prepare(): Promise<void> {
    // A renderer driven by audio ignores the mouth parameters the measurement varies: its
    // speech frames are sent whole.
    if (this.renderer.createAudioConditioning) return;
    this.speechRegion = await measureSpeechRegion(this.renderer, this.loopFrames, this.fps);
  }

  /** The measured speech region, if speech frames are sent as patches. */
  get patchRegion(): FrameRect | undefined {
    return this.speechRegion;
  }

  get width(): number {
    return this.renderer.width;
  }

  get height(): number {
    return this.renderer.height;
  }

  /** True when the idle frame at `position` is already encoded (or being encoded). */
  hasIdle(position: number): boolean {
    return this.idle[position] !== undefined;
  }

  /** The JPEG of the idle frame at a loop position (0..loopFrames-1). */
  idleJpeg(position: number): Promise<Buffer> {
    let cached = this.idle[position];
    if (!cached) {
      cached = this.encode(position, REST_MOUTH, false);
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
    const region = this.speechRegion;
    if (!region) return { jpeg: await this.encode(position, mouth, true, undefined, audio) };
    const [base, patch] = await Promise.all([this.idleJpeg(position), this.encode(position, mouth, true, region, audio)]);
    return { jpeg: base, patch: { x: region[0], y: region[1], jpeg: patch } };
  }

  /**
   * The frame at a loop position as the renderer draws it (I420): idle with no mouth given,
   * else speaking. The caller releases it. Raw frames are never cached: a video encoder
   * downstream pays far more per frame than drawing one.
   */
  async rawFrame(position: number, mouth?: MouthParams, audio?: Float32Array): Promise<RawPicture> {
    const frame = await this.renderer.render({ index: position, ptsMs: (position * 1000) / this.fps, mouth: mouth ?? REST_MOUTH, speaking: mouth !== undefined, ...(audio ? { audio } : {}) });
    return { i420: frame };
  }

  private async encode(position: number, mouth: MouthParams, speaking: boolean, region?: FrameRect, audio?: Float32Array): Promise<Buffer> {
    const frame = await this.renderer.render({ index: position, ptsMs: (position * 1000) / this.fps, mouth, speaking, ...(audio ? { audio } : {}) });
    try {
      return await this.jpeg.encode(frame, region);
    } finally {
      frame.release?.();
    }
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

  constructor(private readonly catalog: AvatarCatalog, private readonly jpeg: JpegEncoder, private readonly maxStages = DEFAULT_MAX_STAGES) {}

  /** Stages held now. */
  get size(): number {
    return this.stages.size;
  }

  get(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<AvatarStage> {
    const key = stageKey(avatar, request);
    let stage = this.stages.get(key);
    if (stage) {
      // Most recently used last: Map keeps insertion order.
      this.stages.delete(key);
      this.stages.set(key, stage);
    } else {
      while (this.stages.size >= this.maxStages) this.stages.delete(this.stages.keys().next().value!);
      stage = this.catalog.createRenderer(avatar, request).then(async (renderer) => {
        const created = new AvatarStage(avatar, renderer, request.fps, this.jpeg);
        await created.prepare();
        return created;
      });
      const built = stage;
      built.catch(() => {
        if (this.stages.get(key) === built) this.stages.delete(key);
      });
      this.stages.set(key, built);
    }
    return stage;
  }

  private readonly spare = new Map<string, Renderer[]>();

  /**
   * A renderer for one stream, used by it alone until `checkin`: a finished stream's
   * renderer serves the next one, so its set-up (painting, loading) is paid once.
   */
  async checkout(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<Renderer> {
    const list = this.spare.get(stageKey(avatar, request));
    return list?.pop() ?? this.catalog.createRenderer(avatar, request);
  }

  /** Returns a renderer taken with `checkout`. */
  checkin(avatar: string, request: { width?: number; height?: number; fps: number }, renderer: Renderer): void {
    const key = stageKey(avatar, request);
    const list = this.spare.get(key) ?? [];
    if (list.length < SPARE_RENDERERS) list.push(renderer);
    this.spare.delete(key);
    while (this.spare.size >= this.maxStages) this.spare.delete(this.spare.keys().next().value!);
    this.spare.set(key, list);
  }

  /** Forgets an avatar (deleted or changed). */
  drop(avatar: string): void {
    for (const key of this.stages.keys()) if (key.startsWith(`${avatar}|`)) this.stages.delete(key);
    for (const key of this.spare.keys()) if (key.startsWith(`${avatar}|`)) this.spare.delete(key);
  }
}

/** Idle renderers kept per avatar, size and rate. */
const SPARE_RENDERERS = 4;

function stageKey(avatar: string, request: { width?: number; height?: number; fps: number }): string {
  return `${avatar}|${request.width ?? ''}x${request.height ?? ''}|${request.fps}`;
}
