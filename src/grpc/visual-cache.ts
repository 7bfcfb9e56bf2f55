import { FrameCache, type EvictionPolicy } from '../avatars/frame-cache.js';

/** Longest visual key accepted. */
export const MAX_VISUAL_KEY_LENGTH = 256;

/**
 * The inference service's visual tensors by frame, under their model and key, in one
 * byte-budgeted cache (LRU or LFU). Frames are kept as float32, the model's input type,
 * whatever type they came in: a batch is then assembled by copying (a quarter of the
 * time of converting UINT8 again on each use), at 2.46 MB per seed320 frame.
 */
export class VisualCache {
  private readonly cache: FrameCache | undefined;

  /** A budget of 0 keeps nothing: every request with keys alone misses. */
  constructor(budgetBytes: number, eviction: EvictionPolicy) {
    this.cache = budgetBytes > 0 ? new FrameCache(budgetBytes, eviction) : undefined;
  }

  get stats(): ReturnType<FrameCache['stats']> | undefined {
    return this.cache?.stats();
  }

  /** Keeps each frame of a batch (`frameValues` float32 values each, frame i at i * frameValues) under its key; copies them. */
  keep(modelId: string, keys: readonly string[], visual: Float32Array, frameValues: number): void {
    if (!this.cache) return;
    keys.forEach((key, i) => {
      const frame = visual.slice(i * frameValues, (i + 1) * frameValues);
      this.cache!.set(modelId, key, new Uint8Array(frame.buffer));
    });
  }

  /**
   * Writes the frames named by `keys` as float32 into `out` (frame i at i * frameValues);
   * returns the keys not held (then `out` is incomplete).
   */
  assemble(modelId: string, keys: readonly string[], frameValues: number, out: Float32Array): string[] {
    const frames = keys.map((key) => this.cache?.get(modelId, key));
    const missing = keys.filter((_, i) => !frames[i]);
    if (missing.length > 0) return missing;
    frames.forEach((bytes, i) => out.set(new Float32Array(bytes!.buffer, bytes!.byteOffset, frameValues), i * frameValues));
    return [];
  }
}
