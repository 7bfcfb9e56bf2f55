/**
 * Large buffers reused from batch to batch instead of allocated afresh: a seed320 batch of
 * 24 is a 29.5 MB model output on the inference service and 19 MB of frame copies to paste
 * on in the compositing service, and allocating those per batch makes the garbage collector
 * run in the middle of requests. A buffer is taken for one use and given back when nothing
 * reads it any more; kept buffers are bounded by a byte budget.
 */
export class BufferPool<T extends Float32Array | Uint8Array> {
  private readonly spare = new Map<number, T[]>();
  private keptBytes = 0;

  /** `make` allocates a buffer when none of the length is kept (`take`); `budgetBytes` bounds the kept ones. */
  constructor(private readonly make: (length: number) => T, private readonly budgetBytes: number) {}

  /** A buffer of `length` elements (its contents are whatever its last user left). */
  take(length: number): T {
    return this.reuse(length) ?? this.make(length);
  }

  /** A kept buffer of `length` elements, if there is one (nothing is allocated). */
  reuse(length: number): T | undefined {
    const buffer = this.spare.get(length)?.pop();
    if (buffer) this.keptBytes -= buffer.byteLength;
    return buffer;
  }

  /** Gives `buffer` back: nothing may read or write it afterwards. */
  give(buffer: T): void {
    if (this.keptBytes + buffer.byteLength > this.budgetBytes) return;
    const list = this.spare.get(buffer.length) ?? [];
    list.push(buffer);
    this.spare.set(buffer.length, list);
    this.keptBytes += buffer.byteLength;
  }

  /** Drops every kept buffer. */
  clear(): void {
    this.spare.clear();
    this.keptBytes = 0;
  }
}
