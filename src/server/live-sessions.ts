import type { ErrorDescription } from '../core/errors.js';

/** What the server can do to a live session or stream. */
export interface LiveWork {
  /** The avatar it shows now. */
  readonly avatar: string;
  /** Ends it with a reason the client is told. */
  end(reason: ErrorDescription): void;
}

/**
 * Realtime sessions and streams in progress, and the slots they hold. A slot is reserved
 * synchronously, before any await, so simultaneous requests can never exceed the limit;
 * deleting an avatar ends the sessions that show it, with an error event, instead of
 * letting them fail on missing files.
 */
export class LiveSessions {
  private readonly live = new Set<LiveWork>();
  private reserved = 0;

  constructor(private readonly limit: number) {}

  /** Slots in use (reserved or live). */
  get count(): number {
    return this.reserved;
  }

  /** Realtime sessions tracked now (streams hold slots but are not tracked). */
  get tracked(): number {
    return this.live.size;
  }

  /** Takes a slot now; false when the server is at its limit. The returned release is idempotent. */
  reserve(): (() => void) | undefined {
    if (this.reserved >= this.limit) return undefined;
    this.reserved++;
    let held = true;
    return () => {
      if (held) this.reserved--;
      held = false;
    };
  }

  /** Tracks work until the returned function is called. */
  track(work: LiveWork): () => void {
    this.live.add(work);
    return () => void this.live.delete(work);
  }

  /** Ends everything showing `avatar`; returns how many. */
  endAvatar(avatar: string, reason: ErrorDescription): number {
    let ended = 0;
    for (const work of [...this.live]) {
      if (work.avatar !== avatar) continue;
      this.live.delete(work);
      work.end(reason);
      ended++;
    }
    return ended;
  }
}
