import { FrameCache, type EvictionPolicy } from '../avatars/frame-cache.js';
import type { TensorType } from './proto-loading.js';
import { bytesPerValue, decodeInto } from './tensor-bytes.js';

/** Longest visual key accepted. */
export const MAX_VISUAL_KEY_LENGTH = 256;

/**
 * The inference service's visual tensors by frame: each frame's bytes as received
 * (UINT8, FLOAT16 or FLOAT32; the size tells which) under its model and key, in one
 * byte-budgeted cache (LRU or LFU). Batches are assembled from it as float32.
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

  /** Keeps each frame of a batch (`frameValues` values each, of `type`) under its key; copies the bytes. */
  keep(modelId: string, keys: readonly string[], bytes: Uint8Array, type: TensorType, frameValues: number): void {
    if (!this.cache) return;
    const frameBytes = frameValues * bytesPerValue(type);
    keys.forEach((key, i) => this.cache!.set(modelId, key, bytes.slice(i * frameBytes, (i + 1) * frameBytes)));
  }

  /**
   * Writes the frames named by `keys` as float32 into `out` (frame i at i * frameValues);
   * returns the keys not held (then `out` is incomplete).
   */
  assemble(modelId: string, keys: readonly string[], frameValues: number, out: Float32Array): string[] {
    const frames = keys.map((key) => this.cache?.get(modelId, key));
    const missing = keys.filter((_, i) => !frames[i]);
    if (missing.length > 0) return missing;
    frames.forEach((bytes, i) => decodeInto(bytes!, typeOfFrame(bytes!.byteLength, frameValues), out, i * frameValues));
    return [];
  }
}

function typeOfFrame(byteLength: number, frameValues: number): TensorType {
  const per = byteLength / frameValues;
  return per === 4 ? 'FLOAT32' : per === 2 ? 'FLOAT16' : 'UINT8';
}
