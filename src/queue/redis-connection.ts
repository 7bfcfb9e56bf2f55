import { Redis } from 'ioredis';
import type { RedisConfig } from '../server/config.js';

/** The BullMQ queue that render jobs go through (its keys start with `<prefix>:render:`). */
export const RENDER_QUEUE = 'render';

/** How long a call to Redis may take before the caller is told the store is unavailable, ms. */
export const REDIS_CALL_TIMEOUT_MS = 3000;

/**
 * A connection for request-time calls (API processes): commands fail at once while Redis
 * is unreachable (no offline queue, one try), so a request answers 503 instead of hanging,
 * and the connection keeps reconnecting in the background. Resolves once connected.
 */
export async function openCommandConnection(config: RedisConfig): Promise<Redis> {
  const client = new Redis(config.url, {
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_CALL_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
  });
  client.on('error', () => undefined); // Reconnection is the answer to every connection error; requests report them.
  await client.connect();
  return client;
}

/**
 * A connection for blocking and long-lived work (workers, subscriptions): commands wait
 * while Redis is away and go out once it is back (BullMQ requires this for workers).
 */
export function openBlockingConnection(config: RedisConfig): Redis {
  const client = new Redis(config.url, { maxRetriesPerRequest: null, retryStrategy: (attempt) => Math.min(100 * attempt, 2000) });
  client.on('error', () => undefined);
  return client;
}

/** The channel on which API processes ask workers to stop a running job (message: the job id). */
export function cancelChannel(config: RedisConfig): string {
  return `${config.prefix}:${RENDER_QUEUE}:cancel`;
}

/** Deletes every key under `prefix` (a loadtest's or a test's own queue when it ends). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
