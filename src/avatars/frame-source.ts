import { join } from 'node:path';
import sharp from 'sharp';
import { rgbToI420 } from '../compose/color-convert.js';
import type { FrameSource } from '../render/avatar-input.js';
import type { FrameCache } from './frame-cache.js';

export type { FrameSource };


/**
 * Frames stored as image files (JPEG or PNG), decoded with libvips on its own threads and
 * kept in a shared byte-budgeted cache. Concurrent requests for one frame decode it once.
 * Frames are scaled to the requested size when it differs from the stored one.
 */
export class ImageFileFrameSource implements FrameSource {
  private readonly inFlight = new Map<number, Promise<Uint8Array>>();

  constructor(
    private readonly files: readonly string[],
    readonly width: number,
    readonly height: number,
    private readonly cache: FrameCache,
    /** Cache group: one per avatar and output size. */
    private readonly group: string,
    /** Called on every frame request, so that an avatar in use is never unloaded as idle. */
    private readonly onUse: () => void = () => undefined,
  ) {}

  get frameCount(): number {
    return this.files.length;
  }

  peek(index: number): Uint8Array | undefined {
    return this.cache.get(this.group, index);
  }

  frame(index: number): Promise<Uint8Array> {
    this.onUse();
    const cached = this.cache.get(this.group, index);
    if (cached) return Promise.resolve(cached);
    let pending = this.inFlight.get(index);
    if (!pending) {
      pending = this.decode(index).finally(() => this.inFlight.delete(index));
      this.inFlight.set(index, pending);
    }
    return pending;
  }

  private async decode(index: number): Promise<Uint8Array> {
    const file = this.files[index];
    if (file === undefined) throw new RangeError(`frame ${index} of ${this.files.length}`);
    const rgb = await sharp(file).removeAlpha().resize(this.width, this.height, { fit: 'fill' }).raw().toBuffer();
    const yuv = rgbToI420(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), this.width, this.height);
    this.cache.set(this.group, index, yuv);
    return yuv;
  }
}

/** Paths of frame files in a folder, in name order. */
export function framePaths(dir: string, names: readonly string[]): string[] {
  return [...names].filter((n) => /\.(jpe?g|png|webp)$/i.test(n)).sort().map((n) => join(dir, n));
}
