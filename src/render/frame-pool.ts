import { i420FrameBytes } from '../core/frame.js';

/** Frame buffers handed back by consumers for reuse. */
const POOL_SIZE = 8;

/**
 * Output buffers of a renderer. A frame's buffer returns to the pool when its consumer
 * calls `release`; frames that are never released are simply garbage collected.
 */
export class FramePool {
  readonly frameBytes: number;
  private readonly free: Uint8Array[] = [];

  constructor(readonly width: number, readonly height: number) {
    this.frameBytes = i420FrameBytes(width, height);
  }

  take(): { data: Uint8Array; release: () => void } {
    const data = this.free.pop() ?? new Uint8Array(this.frameBytes);
    let released = false;
    return {
      data,
      release: () => {
        if (released) return;
        released = true;
        if (this.free.length < POOL_SIZE) this.free.push(data);
      },
    };
  }
}

/** Frame index of a loop that plays forward then backward, so it never jumps. */
export function pingPong(index: number, count: number): number {
  if (count <= 1) return 0;
  const period = 2 * (count - 1);
  const t = index % period;
  return t < count ? t : period - t;
}
