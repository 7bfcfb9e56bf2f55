import { HttpError } from './http-errors.js';

/**
 * Sliding-window limit of events per key per minute (generations per API key). Keeps one
 * timestamp per allowed event in the window, so memory is bounded by the limit.
 */
export class RateLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Records one event for `key`, or throws a 429 HttpError saying when to retry. */
  take(key: string): void {
    const now = this.now();
    const windowStart = now - 60_000;
    const list = (this.events.get(key) ?? []).filter((t) => t > windowStart);
    if (list.length >= this.perMinute) {
      const retryS = Math.max(1, Math.ceil((list[0]! - windowStart) / 1000));
      this.events.set(key, list);
      const error = new HttpError(429, 'rate_limited', `rate limit: at most ${this.perMinute} generations per minute for this key; retry in ${retryS} s`);
      (error as HttpError & { retryAfterS: number }).retryAfterS = retryS;
      throw error;
    }
    list.push(now);
    this.events.set(key, list);
    if (this.events.size > 10000) this.prune(windowStart);
  }

  private prune(windowStart: number): void {
    for (const [key, list] of this.events) if (!list.some((t) => t > windowStart)) this.events.delete(key);
  }
}
