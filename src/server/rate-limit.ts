import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HttpError } from './http-errors.js';

/** Events allowed per key per minute (generations per API key); every API process that shares the limiter shares the count. */
export interface RateLimiter {
  /** Records one event for `key`, or throws a 429 HttpError saying when to retry. */
  take(key: string): Promise<void>;
}

const WINDOW_MS = 60_000;

/**
 * Sliding-window limit in this process. Keeps one timestamp per allowed event in the
 * window, so memory is bounded by the limit.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  take(key: string): Promise<void> {
    try {
      this.takeNow(key);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** `take`, answered at once. */
  takeNow(key: string): void {
    const now = this.now();
    const windowStart = now - WINDOW_MS;
    const list = (this.events.get(key) ?? []).filter((t) => t > windowStart);
    if (list.length >= this.perMinute) {
      this.events.set(key, list);
      throw rateLimited(this.perMinute, list[0]! - windowStart);
    }
    list.push(now);
    this.events.set(key, list);
    if (this.events.size > 10000) this.prune(windowStart);
  }

  private prune(windowStart: number): void {
    for (const [key, list] of this.events) if (!list.some((t) => t > windowStart)) this.events.delete(key);
  }
}

/** Drops events older than the window, then adds this one unless the limit is reached: [1, 0] taken, [0, oldest] refused. */
const TAKE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2])}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 0}
`;

/**
 * The same sliding window in Redis (one sorted set per key, changed atomically by a script),
 * so API processes behind one load balancer share each key's budget. Keys are hashed: an
 * identifier never appears in Redis as it is.
 */
export class RedisRateLimiter implements RateLimiter {
  private sequence = 0;

  constructor(private readonly client: Redis, private readonly prefix: string, private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  async take(key: string): Promise<void> {
    const now = this.now();
    const digest = createHash('sha256').update(key).digest('hex').slice(0, 32);
    const member = `${now}-${process.pid}-${this.sequence++}-${Math.random().toString(36).slice(2, 8)}`;
    let answer: [number, number];
    try {
      answer = (await this.client.eval(TAKE_SCRIPT, 1, `${this.prefix}:ratelimit:${digest}`, now, WINDOW_MS, this.perMinute, member)) as [number, number];
    } catch {
      const error = new HttpError(503, 'queue_unavailable', 'the shared rate limit cannot be checked right now; retry shortly');
      (error as HttpError & { retryAfterS: number }).retryAfterS = 2;
      throw error;
    }
    if (answer[0] === 1) return;
    throw rateLimited(this.perMinute, answer[1] - (now - WINDOW_MS));
  }
}

function rateLimited(perMinute: number, untilFreeMs: number): HttpError {
  const retryS = Math.max(1, Math.ceil(untilFreeMs / 1000));
  const error = new HttpError(429, 'rate_limited', `rate limit: at most ${perMinute} generations per minute for this key; retry in ${retryS} s`);
  (error as HttpError & { retryAfterS: number }).retryAfterS = retryS;
  return error;
}
