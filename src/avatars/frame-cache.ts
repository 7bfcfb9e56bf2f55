/** Which entry leaves first when the cache is over budget. */
export type EvictionPolicy = 'lru' | 'lfu';

/** Counters of a cache, for health and metrics. */
export interface FrameCacheStats {
  readonly bytes: number;
  readonly budgetBytes: number;
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

/**
 * Decoded frames of all avatars under one byte budget. Every operation is O(1): LRU keeps
 * a Map in recency order; LFU keeps frequency buckets with the lowest one tracked. Keys are
 * `avatarId/frameIndex`, and entries are grouped by avatar so that unloading one avatar
 * touches only its own frames. An index may also be a string key (frames named by their content).
 */
export class FrameCache {
  private readonly entries = new Map<string, { data: Uint8Array; freq: number; group: string }>();
  private readonly groups = new Map<string, Set<string>>();
  // LFU: keys by use count, each bucket in insertion order (oldest first among equals).
  private readonly buckets = new Map<number, Set<string>>();
  private minFreq = 0;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(readonly budgetBytes: number, readonly policy: EvictionPolicy = 'lru') {
    if (!(budgetBytes > 0)) throw new Error(`cache budget must be a positive number of bytes, got ${budgetBytes}`);
  }

  get(group: string, index: number | string): Uint8Array | undefined {
    const key = `${group}/${index}`;
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (this.policy === 'lru') {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      this.bump(key, entry);
    }
    return entry.data;
  }

  /** Stores a frame; evicts others (never this one) until the total fits the budget. */
  set(group: string, index: number | string, data: Uint8Array): void {
    const key = `${group}/${index}`;
    this.remove(key);
    if (data.byteLength > this.budgetBytes) return;
    this.entries.set(key, { data, freq: 1, group });
    this.bytes += data.byteLength;
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Set()));
    members.add(key);
    if (this.policy === 'lfu') {
      this.bucket(1).add(key);
      this.minFreq = 1;
    }
    while (this.bytes > this.budgetBytes) this.evictOne(key);
  }

  /** Drops every frame of one avatar. */
  dropGroup(group: string): void {
    for (const key of [...(this.groups.get(group) ?? [])]) this.remove(key);
    this.groups.delete(group);
  }

  /** Bytes held for one avatar. */
  groupBytes(group: string): number {
    let total = 0;
    for (const key of this.groups.get(group) ?? []) total += this.entries.get(key)?.data.byteLength ?? 0;
    return total;
  }

  stats(): FrameCacheStats {
    return { bytes: this.bytes, budgetBytes: this.budgetBytes, entries: this.entries.size, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }

  private evictOne(keep: string): void {
    let victim: string | undefined;
    if (this.policy === 'lru') {
      for (const key of this.entries.keys()) {
        if (key !== keep) {
          victim = key;
          break;
        }
      }
    } else {
      // Fast path: the lowest bucket; otherwise the lowest non-empty one (few distinct counts).
      const lowest = this.buckets.get(this.minFreq);
      const order = lowest && lowest.size > 0 ? [lowest] : [...this.buckets.entries()].filter(([, s]) => s.size > 0).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
      for (const bucket of order) {
        for (const key of bucket) {
          if (key !== keep) {
            victim = key;
            break;
          }
        }
        if (victim !== undefined) break;
      }
      if (victim === undefined && order.length === 1) {
        const rest = [...this.buckets.entries()].filter(([, s]) => s.size > 0 && s !== order[0]).sort((a, b) => a[0] - b[0]);
        victim = rest[0] ? rest[0][1].values().next().value : undefined;
      }
    }
    if (victim === undefined) return;
    this.remove(victim);
    this.evictions++;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.data.byteLength;
    this.groups.get(entry.group)?.delete(key);
    if (this.policy === 'lfu') {
      const bucket = this.buckets.get(entry.freq);
      bucket?.delete(key);
      if (bucket && bucket.size === 0) this.buckets.delete(entry.freq);
    }
  }

  private bump(key: string, entry: { freq: number }): void {
    const from = this.buckets.get(entry.freq);
    from?.delete(key);
    if (from && from.size === 0) {
      this.buckets.delete(entry.freq);
      if (this.minFreq === entry.freq) this.minFreq = entry.freq + 1;
    }
    entry.freq++;
    this.bucket(entry.freq).add(key);
  }

  private bucket(freq: number): Set<string> {
    let set = this.buckets.get(freq);
    if (!set) this.buckets.set(freq, (set = new Set()));
    return set;
  }
}
