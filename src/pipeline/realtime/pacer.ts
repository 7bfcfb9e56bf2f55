import { systemClock, type Clock } from '../../core/clock.js';

/** Counters of a pacer since it started. */
export interface PacerStats {
  /** Ticks run (frames produced). */
  readonly ticks: number;
  /** Ticks that started more than half a frame interval after their due time. */
  readonly late: number;
  /** Frame slots skipped to catch up with the clock. */
  readonly skipped: number;
}

/**
 * Calls `tick(index)` once per frame slot on an absolute clock: slot n is due at
 * start + n * frameMs, so timer jitter never accumulates. When a tick finishes after the
 * next slot has passed by more than a whole interval, the missed slots are skipped
 * (counted), never played late one after another: a session cannot fall behind.
 */
export class FramePacer {
  readonly frameMs: number;
  private startedAt = 0;
  private next = 0;
  private cancelTimer: (() => void) | undefined;
  private running = false;
  private counts = { ticks: 0, late: 0, skipped: 0 };

  /**
   * `leadMs`: ticks start this much before their slot is due, so the frame can be ready on
   * time; the tick itself waits for `dueAt` before sending. `clock`: where time and timers
   * come from (the process clock unless a test drives it).
   */
  constructor(
    fps: number,
    private readonly tick: (index: number, dueAt: number) => Promise<void> | void,
    private readonly leadMs = 0,
    private readonly clock: Clock = systemClock,
    /** Told about a tick that threw or rejected; the pacer stops (a failing tick would fail again 25 times a second). */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.frameMs = 1000 / fps;
  }

  /** Session clock origin (the clock's ms; performance.now() by default). */
  get origin(): number {
    return this.startedAt;
  }

  /** Index of the next slot that will be produced. */
  get nextIndex(): number {
    return this.next;
  }

  get stats(): PacerStats {
    return { ...this.counts };
  }

  /**
   * Starts ticking. With `gridMs`, the origin is the next multiple of `gridMs` on the clock
   * (at most `gridMs` from now) rather than now: pacers started on the same grid tick in the
   * same turns of the event loop.
   */
  start(gridMs?: number): void {
    const now = this.clock.now();
    this.startedAt = gridMs && gridMs > 0 ? Math.ceil(now / gridMs) * gridMs : now;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private schedule(): void {
    if (!this.running) return;
    const due = this.startedAt + this.next * this.frameMs - this.leadMs;
    this.cancelTimer = this.clock.setTimer(() => void this.run().catch((e: unknown) => this.fail(e)), Math.max(0, due - this.clock.now()));
  }

  private async run(): Promise<void> {
    if (!this.running) return;
    const now = this.clock.now() + this.leadMs;
    const behind = Math.floor((now - this.startedAt) / this.frameMs) - this.next;
    if (behind >= 1) {
      this.counts.skipped += behind;
      this.next += behind;
    }
    const lateMs = now - (this.startedAt + this.next * this.frameMs);
    if (lateMs > this.frameMs / 2) this.counts.late++;
    this.counts.ticks++;
    const index = this.next++;
    await this.tick(index, this.startedAt + index * this.frameMs);
    this.schedule();
  }

  private fail(error: unknown): void {
    if (!this.running) return;
    this.stop();
    try {
      this.onError(error);
    } catch {
      // The error handler's own failure must not escape a timer either.
    }
  }
}
