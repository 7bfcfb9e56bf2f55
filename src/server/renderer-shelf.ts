import type { AvatarCatalog } from '../avatars/catalog.js';
import type { RendererLender } from '../pipeline/speech-to-stream.js';
import type { Renderer } from '../render/renderer.js';

/** How long an unused renderer is kept, ms: short, so an avatar replaced under the same id is soon drawn afresh. */
const KEEP_MS = 30_000;
/** Renderers kept per avatar, size and rate. */
const KEEP_PER_KIND = 4;

/**
 * Renderers kept from one job to the next of a worker (making one loads the avatar and
 * builds its pictures; a stream segment should start drawing at once). A renderer is used
 * by one job at a time; pictures depend only on the frame number, so a reused renderer
 * draws what a fresh one would.
 */
export class RendererShelf implements RendererLender {
  private readonly idle = new Map<string, { renderer: Renderer; at: number }[]>();

  constructor(private readonly catalog: AvatarCatalog) {}

  async checkout(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<Renderer> {
    this.forgetStale();
    const kept = this.idle.get(keyOf(avatar, request))?.pop();
    return kept?.renderer ?? this.catalog.createRenderer(avatar, request);
  }

  checkin(avatar: string, request: { width?: number; height?: number; fps: number }, renderer: Renderer): void {
    const key = keyOf(avatar, request);
    const shelf = this.idle.get(key) ?? [];
    if (shelf.length < KEEP_PER_KIND) shelf.push({ renderer, at: Date.now() });
    this.idle.set(key, shelf);
  }

  /** Forgets every renderer of an avatar (it changed). */
  drop(avatar: string): void {
    for (const key of [...this.idle.keys()]) if (key.startsWith(`${avatar}|`)) this.idle.delete(key);
  }

  private forgetStale(): void {
    const now = Date.now();
    for (const [key, shelf] of this.idle) {
      const fresh = shelf.filter((s) => now - s.at < KEEP_MS);
      if (fresh.length) this.idle.set(key, fresh);
      else this.idle.delete(key);
    }
  }
}

function keyOf(avatar: string, request: { width?: number; height?: number; fps: number }): string {
  return `${avatar}|${request.width ?? ''}x${request.height ?? ''}|${request.fps}`;
}
