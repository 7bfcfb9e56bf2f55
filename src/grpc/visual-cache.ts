import type { EvictionPolicy } from '../avatars/frame-cache.js';

/** Longest visual key accepted. */
export const MAX_VISUAL_KEY_LENGTH = 256;

/** One batch's visual tensor as received (float32), and the keys of its frames in order. */
interface Slab {
  readonly model: string;
  readonly keys: readonly string[];
  readonly data: Float32Array;
  uses: number;
}

/** Counters of the cache, for tests and health. */
export interface VisualCacheStats {
  readonly bytes: number;
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
  /** Batches served without a copy (the same keys in the same order as a kept batch). */
  readonly whole: number;
}

/**
 * The inference service's visual tensors by key, float32 (the model's input type,
 * 2.46 MB per seed320 frame), under one byte budget. A batch is kept as it came, one slab;
 * each key names its frame in the newest slab that holds it. A batch whose keys are a kept
 * batch's, in order, is that slab itself (no copy: an utterance that starts again at the
 * same frame); any other batch of held keys is assembled by copying frames. Whole slabs
 * leave when over budget, least recently (LRU) or least often (LFU) used first.
 */
export class VisualCache {
  private readonly slabs = new Set<Slab>();
  private readonly frames = new Map<string, { slab: Slab; index: number }>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private whole = 0;

  /** A budget of 0 keeps nothing: every request with keys alone misses. */
  constructor(private readonly budgetBytes: number, private readonly eviction: EvictionPolicy) {}

  get stats(): VisualCacheStats {
    return { bytes: this.bytes, entries: this.frames.size, hits: this.hits, misses: this.misses, whole: this.whole };
  }

  /** Keeps a batch's visual tensor (frame i at i * frameValues) under its keys, without copying it: the caller must not change it. */
  keep(modelId: string, keys: readonly string[], visual: Float32Array, frameValues: number): void {
    if (keys.length === 0 || visual.byteLength > this.budgetBytes) return;
    const slab: Slab = { model: modelId, keys: [...keys], data: visual.subarray(0, keys.length * frameValues), uses: 1 };
    this.slabs.add(slab);
    this.bytes += slab.data.byteLength;
    keys.forEach((key, index) => this.frames.set(`${modelId}\n${key}`, { slab, index }));
    while (this.bytes > this.budgetBytes) this.evict(slab);
  }

  /**
   * The batch named by `keys` as float32 (`frameValues` values per frame): a kept slab
   * when the keys are its own, else a copy of the frames; undefined (with `missing`
   * filled) when a key is not held.
   */
  assemble(modelId: string, keys: readonly string[], frameValues: number, missing: string[]): Float32Array | undefined {
    const found = keys.map((key) => this.frames.get(`${modelId}\n${key}`));
    found.forEach((f, i) => {
      if (!f) missing.push(keys[i]!);
    });
    if (missing.length > 0) {
      this.misses += missing.length;
      return undefined;
    }
    this.hits += keys.length;
    const first = found[0]!.slab;
    for (const f of new Set(found.map((x) => x!.slab))) this.touch(f);
    if (first.keys.length === keys.length && found.every((f, i) => f!.slab === first && f!.index === i)) {
      this.whole++;
      return first.data;
    }
    const out = new Float32Array(keys.length * frameValues);
    found.forEach((f, i) => out.set(f!.slab.data.subarray(f!.index * frameValues, (f!.index + 1) * frameValues), i * frameValues));
    return out;
  }

  private touch(slab: Slab): void {
    slab.uses++;
    if (this.eviction === 'lru') {
      this.slabs.delete(slab);
      this.slabs.add(slab);
    }
  }

  /** Drops one slab other than `keep` (the oldest, or the least used); its keys that still point at it go too. */
  private evict(keep: Slab): void {
    let victim: Slab | undefined;
    for (const s of this.slabs) {
      if (s === keep) continue;
      if (this.eviction === 'lru') {
        victim = s;
        break;
      }
      if (!victim || s.uses < victim.uses) victim = s;
    }
    if (!victim) return;
    this.slabs.delete(victim);
    this.bytes -= victim.data.byteLength;
    victim.keys.forEach((key, index) => {
      const id = `${victim.model}\n${key}`;
      const f = this.frames.get(id);
      if (f && f.slab === victim && f.index === index) this.frames.delete(id);
    });
  }
}
