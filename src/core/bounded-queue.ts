/**
 * Runs ahead of the consumer of an async iterable by at most `capacity` items: the next
 * items are produced while the current one is used, and production pauses when `capacity`
 * are waiting, so a slow consumer slows the producer and nothing is buffered without bound.
 * An error of the source reaches the consumer after the items before it. Stopping the
 * consumer (break, throw, return) stops the source.
 */
export class Prefetch<T> implements AsyncIterable<T> {
  private readonly iterator: AsyncIterator<T>;
  private readonly items: T[] = [];
  private finished = false;
  private failure: { error: unknown } | undefined;
  private pulling = false;
  private stopped = false;
  private waiters: (() => void)[] = [];

  constructor(source: AsyncIterable<T>, private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('prefetch capacity must be at least 1');
    this.iterator = source[Symbol.asyncIterator]();
    this.pull();
  }

  /** Items produced and not yet consumed, oldest first. */
  get buffered(): readonly T[] {
    return this.items;
  }

  /** True once the source has ended (or failed). */
  get done(): boolean {
    return this.finished;
  }

  /** Resolves when `count` items are waiting, the source has ended, or `timeoutMs` has passed. */
  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.finished && this.items.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        if (this.items.length > 0) {
          const item = this.items.shift()!;
          this.pull();
          yield item;
          continue;
        }
        if (this.finished) {
          if (this.failure) throw this.failure.error;
          return;
        }
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    } finally {
      this.stopped = true;
      if (!this.finished) await this.iterator.return?.().catch(() => undefined);
    }
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  private pull(): void {
    if (this.pulling || this.finished || this.stopped || this.items.length >= this.capacity) return;
    this.pulling = true;
    this.iterator.next().then(
      (r) => {
        this.pulling = false;
        if (r.done) this.finished = true;
        else if (!this.stopped) this.items.push(r.value);
        this.wake();
        this.pull();
      },
      (e: unknown) => {
        this.pulling = false;
        this.finished = true;
        this.failure = { error: e };
        this.wake();
      },
    );
  }
}
