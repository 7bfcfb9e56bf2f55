import { readdir, readFile } from 'node:fs/promises';
import { avatarFolders, isDirectory, isFile } from './file-kind.js';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import type { PastePlan } from '../compose/rgb-paste.js';
import { FrameCache } from '../avatars/frame-cache.js';
import { framePaths } from '../avatars/frame-source.js';
import { squareCrops, type SquareCrop } from '../render/onnx/face-crop.js';
import type { CompositingModelConfig } from './compositing-config.js';
import { ServiceError } from './proto-loading.js';

/** A model's backgrounds, opened: frame files, their size, and a square face crop per frame. */
export interface OpenBackgrounds {
  readonly id: string;
  readonly files: readonly string[];
  readonly width: number;
  readonly height: number;
  readonly crops: readonly SquareCrop[];
  /** Paste plans by `frameIndex/outputSize`, made on first use (see planPaste). */
  readonly plans: Map<string, PastePlan | undefined>;
}

/** Settings of the store (from `capacity.*`). */
export interface BackgroundStoreOptions {
  readonly budgetBytes: number;
  readonly eviction: 'lru' | 'lfu';
  /** Frames decoded at start for models that preload. */
  readonly preloadFrames: number;
  /** A model unused this long has its frames dropped (0: never). */
  readonly idleTimeoutMs: number;
}

/**
 * The compositing service's background frames and crop rectangles: any number of models
 * registered (only their paths are kept), opened on first use (file list, crop rects),
 * frames decoded to packed RGB on demand into one byte-budgeted cache (LRU or LFU) shared
 * by all models; concurrent requests for one frame decode it once.
 */
export class BackgroundStore {
  private readonly cache: FrameCache;
  private readonly opened = new Map<string, Promise<OpenBackgrounds>>();
  private readonly lastUse = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly models: ReadonlyMap<string, CompositingModelConfig>, private readonly options: BackgroundStoreOptions) {
    this.cache = new FrameCache(options.budgetBytes, options.eviction);
    if (options.idleTimeoutMs > 0) {
      this.sweeper = setInterval(() => this.dropIdle(), Math.min(60_000, Math.max(1000, options.idleTimeoutMs / 4)));
      this.sweeper.unref();
    }
  }

  get registered(): number {
    return this.models.size;
  }

  /** Models opened (frames known, some possibly cached). */
  get loaded(): number {
    return this.opened.size;
  }

  get stats(): ReturnType<FrameCache['stats']> {
    return this.cache.stats();
  }

  /** Opens a model's backgrounds (NOT_FOUND when not registered, FAILED_PRECONDITION when its files are unusable). */
  open(id: string): Promise<OpenBackgrounds> {
    const config = this.models.get(id);
    if (!config) throw new ServiceError(grpc.status.NOT_FOUND, `model "${id}" has no backgrounds on this compositing server (${this.models.size} models registered)`);
    this.lastUse.set(id, Date.now());
    let pending = this.opened.get(id);
    if (!pending) {
      pending = openBackgrounds(id, config);
      this.opened.set(id, pending);
      pending.catch(() => this.opened.delete(id));
    }
    return pending;
  }

  /** Opens and decodes the first frames of every model marked `preload_backgrounds`; returns how many models. */
  async preload(): Promise<number> {
    let n = 0;
    for (const [id, config] of this.models) {
      if (!config.preloadBackgrounds) continue;
      const bg = await this.open(id);
      const count = Math.min(bg.files.length, this.options.preloadFrames);
      for (let i = 0; i < count; i += 8) await Promise.all(Array.from({ length: Math.min(8, count - i) }, (_, k) => this.frame(bg, i + k)));
      n++;
    }
    return n;
  }

  /** Frame `index` of a model as packed RGB (shared: copy before writing). */
  frame(bg: OpenBackgrounds, index: number): Promise<Uint8Array> {
    const cached = this.cache.get(bg.id, index);
    if (cached) return Promise.resolve(cached);
    const key = `${bg.id}/${index}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = sharp(bg.files[index]!).removeAlpha().resize(bg.width, bg.height, { fit: 'fill' }).raw().toBuffer().then((rgb) => {
        const data = new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length);
        this.cache.set(bg.id, index, data);
        return data;
      }).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private dropIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [id, at] of this.lastUse) {
      if (at >= cutoff) continue;
      this.cache.dropGroup(id);
      this.opened.delete(id);
      this.lastUse.delete(id);
    }
  }
}

async function openBackgrounds(id: string, config: CompositingModelConfig): Promise<OpenBackgrounds> {
  const fail = (what: string): never => {
    throw new ServiceError(grpc.status.FAILED_PRECONDITION, `model "${id}": ${what}`);
  };
  const names = await readdir(config.backgroundDir).catch(() => fail(`background_dir ${config.backgroundDir} cannot be read`));
  let files = framePaths(config.backgroundDir, names);
  if (config.numFrames !== undefined) {
    if (files.length < config.numFrames) fail(`num_frames is ${config.numFrames} but background_dir has ${files.length} frames`);
    files = files.slice(0, config.numFrames);
  }
  if (files.length === 0) fail(`background_dir ${config.backgroundDir} has no frames (frame_0000.jpg or .png ...)`);
  const text = await readFile(config.cropRectsPath, 'utf8').catch(() => fail(`crop_rects_path ${config.cropRectsPath} cannot be read`));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('crop_rects.json is not JSON');
  }
  const list = (Array.isArray(raw) ? raw : Object.values(raw as Record<string, unknown>)) as unknown[];
  if (!list.every((r) => Array.isArray(r) && r.length === 4 && r.every((v) => typeof v === 'number'))) fail('crop_rects.json must hold [x1, y1, x2, y2] rectangles');
  if (list.length < files.length) fail(`crop_rects.json has ${list.length} rectangles for ${files.length} frames`);
  const meta = await sharp(files[0]!).metadata().catch(() => fail(`frame ${files[0]} is not an image`));
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  return { id, files, width, height, plans: new Map(), crops: squareCrops((list as [number, number, number, number][]).slice(0, files.length), 1) };
}

/** Avatar folders with `frames/` and `crop_rects.json`, registered by folder name. */
export function discoverFolderBackgrounds(dirs: readonly string[]): Map<string, CompositingModelConfig> {
  const found = new Map<string, CompositingModelConfig>();
  for (const { id, path } of avatarFolders(dirs)) {
    const frames = join(path, 'frames');
    const rects = join(path, 'crop_rects.json');
    if (isDirectory(frames) && isFile(rects) && !found.has(id)) {
      found.set(id, { backgroundDir: frames, cropRectsPath: rects, preloadBackgrounds: false });
    }
  }
  return found;
}
