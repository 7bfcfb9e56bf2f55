/**
 * Time as the code under test sees it: `now()` in ms and one-shot timers. The real clock is
 * `performance.now()` and `setTimeout`; tests pass a ManualClock to drive time exactly.
 */
export interface Clock {
  /** Current time, ms (monotonic; its origin is the clock's own). */
  now(): number;
  /** Calls `fn` after `ms` (at least 0); returns a function that cancels the call. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** The process's monotonic clock and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

/** Wall-clock time (Date.now()) with Node's timers: for times compared with file mtimes or stored. */
export const wallClock: Clock = {
  now: () => Date.now(),
  setTimer: systemClock.setTimer,
};
