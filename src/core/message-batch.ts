import type { Transferable } from 'node:worker_threads';

/** Where messages go: a Worker, a MessagePort, a worker's `parentPort`. */
export interface MessageTarget {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
}

/**
 * Posts messages to another thread in batches: everything posted during one turn of the
 * event loop goes out as one array (in order, transfer lists joined) when the turn ends.
 * Each post wakes the receiving thread, and on some machines a wake-up costs as much as
 * the work it carries (~60 µs a message each way measured on a 2-core VM); realtime
 * sessions post 25-50 small messages a second each, mostly in the same turns (their
 * clocks share a grid: CLOCK_GRID_MS in session.ts). The receiver takes batches with `eachMessage`.
 *
 * Every message to a target must go through its batcher, or order is lost.
 */
export class MessageBatcher<T> {
  private queue: T[] = [];
  private transfer: Transferable[] = [];
  private scheduled = false;

  constructor(private readonly target: MessageTarget) {}

  /** Queues `message` for the end of this turn; `transfer` moves with it (it is unusable here from now on). */
  post(message: T, transfer: readonly Transferable[] = []): void {
    this.queue.push(message);
    for (const t of transfer) this.transfer.push(t);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is queued now. */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    const transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    this.target.postMessage(batch, transfer);
  }
}

/**
 * A message listener that takes a `MessageBatcher`'s batches and calls `handle` for each
 * message in order; one that throws does not keep the rest from being handled (the first
 * error is thrown after them).
 */
export function eachMessage<T>(handle: (message: T) => void): (batch: readonly T[]) => void {
  return (batch) => {
    let failure: { error: unknown } | undefined;
    for (const message of batch) {
      try {
        handle(message);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };
}
