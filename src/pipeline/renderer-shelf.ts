import type { AvatarCatalog } from '../avatars/catalog.js';
import type { Renderer } from '../render/renderer.js';
import type { RendererLender } from './speech-to-stream.js';

/** Renderers kept per avatar, size and rate. */
const KEEP_PER_KIND = 4;

/** How long idle renderers are kept, and for how many kinds (avatar, size, rate). */
export interface ShelfLimits {
  /** Idle time after which a renderer is forgotten, ms (default: kept until dropped). */
  readonly keepMs?: number;
  /** Kinds kept; the least recently returned goes first (default: no limit). */
  readonly maxKinds?: number;
}

/**
 * A worker's limits: renderers idle for 30 s are forgotten, so an avatar replaced under the
 * same id (which a worker hears of only through its next job) is soon drawn afresh.
 */
export const WORKER_SHELF_LIMITS: ShelfLimits = { keepMs: 30_000 };

/**
 * Renderers kept from one stream or job to the next (making one loads the avatar and
 * builds its pictures; the next stream should start drawing at once). A renderer is used
 * by one job at a time; pictures depend only on the frame number, so a reused renderer
 * draws what a fresh one would.
 */
export class RendererShelf implements RendererLender {
  private readonly idle = new Map<string, { renderer: Renderer; at: number }[]>();

  constructor(private readonly catalog: AvatarCatalog, private readonly limits: ShelfLimits = {}) {}

  async checkout(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<Renderer> {
    this.forgetStale();
    const kept = this.idle.get(rendererKind(avatar, request))?.pop();
    return kept?.renderer ?? this.catalog.createRenderer(avatar, request);
  }

  checkin(avatar: string, request: { width?: number; height?: number; fps: number }, renderer: Renderer): void {
    const key = rendererKind(avatar, request);
    const shelf = this.idle.get(key) ?? [];
    if (shelf.length < KEEP_PER_KIND) shelf.push({ renderer, at: Date.now() });
    this.idle.delete(key);
    const maxKinds = this.limits.maxKinds ?? Infinity;
    while (this.idle.size >= maxKinds) this.idle.delete(this.idle.keys().next().value!);
    this.idle.set(key, shelf);
  }

  /** Forgets every renderer of an avatar (it changed). */
  drop(avatar: string): void {
    for (const key of [...this.idle.keys()]) if (key.startsWith(`${avatar}|`)) this.idle.delete(key);
  }

  private forgetStale(): void {
    const keepMs = this.limits.keepMs;
    if (keepMs === undefined) return;
    const now = Date.now();
    for (const [key, shelf] of this.idle) {
      const fresh = shelf.filter((s) => now - s.at < keepMs);
      if (fresh.length) this.idle.set(key, fresh);
      else this.idle.delete(key);
    }
  }
}

/** The key of renderers that draw alike: avatar, size and rate. */
export function rendererKind(avatar: string, request: { width?: number; height?: number; fps: number }): string {
  return `${avatar}|${request.width ?? ''}x${request.height ?? ''}|${request.fps}`;
}
