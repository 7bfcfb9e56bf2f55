import type { Redis } from 'ioredis';
import type { RedisConfig } from '../server/config.js';
import { openBlockingConnection, RENDER_QUEUE } from './redis-connection.js';

/**
 * What happened to an avatar: its id was taken by an upload of `tenant`'s (`reserved`), its
 * folder was made (`ready`) or removed (`deleted`), or its preparation failed for good (`failed`).
 */
export interface AvatarEvent {
  readonly avatar: string;
  readonly outcome: 'reserved' | 'ready' | 'deleted' | 'failed';
  /** The owner, with `reserved`. */
  readonly tenant?: string;
}

const OUTCOMES: readonly string[] = ['reserved', 'ready', 'deleted', 'failed'];

/**
 * Avatar changes told to every process on the queue (Redis pub/sub). The API process that
 * takes an upload tells every API process its owner before any of them can see the avatar
 * (an avatar without an owner entry is shared by all tenants); the worker that prepared it,
 * or the API process that deleted it, says so, and every process re-reads that avatar's
 * folder at once (rather than at its next rescan) and drops renderers it keeps of it; API
 * processes free the id of a preparation that failed or an avatar deleted.
 */
export class AvatarEvents {
  private subscriber: Redis | undefined;

  constructor(private readonly publisher: Redis, private readonly config: RedisConfig) {}

  private get channel(): string {
    return `${this.config.prefix}:${RENDER_QUEUE}:avatars`;
  }

  /** Tells every process (best effort: a process that misses it still sees the change at its next rescan). */
  async publish(event: AvatarEvent): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(event)).catch(() => undefined);
  }

  /** Calls `handler` with every event from now on, on a connection of its own. */
  subscribe(handler: (event: AvatarEvent) => void): void {
    this.subscriber ??= openBlockingConnection(this.config);
    void this.subscriber.subscribe(this.channel).catch(() => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => {
      try {
        const event = JSON.parse(message) as AvatarEvent;
        if (typeof event.avatar === 'string' && OUTCOMES.includes(event.outcome) && (event.outcome !== 'reserved' || typeof event.tenant === 'string')) handler(event);
      } catch {
        // not an event of ours
      }
    });
  }

  /** Stops listening (the publishing connection belongs to the caller). */
  close(): void {
    this.subscriber?.disconnect();
  }
}
