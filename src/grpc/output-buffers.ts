/**
 * Float32 buffers for model outputs, reused from batch to batch. A seed320 batch of 24 is a
 * 29.5 MB output; allocated afresh per batch, it makes the garbage collector run about an
 * eighth of the inference service's time, in the middle of requests. A buffer is taken for
 * one run and given back once its values have been copied out; a few per length are kept.
 */
export class OutputBuffers {
  private readonly spare = new Map<number, Float32Array[]>();

  constructor(private readonly keepPerLength = 2) {}

  /** A buffer of `length` values (its contents are whatever the last user left). */
  take(length: number): Float32Array {
    return this.spare.get(length)?.pop() ?? new Float32Array(length);
  }

  /** Gives `buffer` back: nothing may read or write it afterwards. */
  give(buffer: Float32Array): void {
    const list = this.spare.get(buffer.length) ?? [];
    if (list.length >= this.keepPerLength) return;
    list.push(buffer);
    this.spare.set(buffer.length, list);
  }

  /** Drops every kept buffer. */
  clear(): void {
    this.spare.clear();
  }
}
