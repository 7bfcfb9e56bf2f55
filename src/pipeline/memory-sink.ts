import type { VideoFrame } from '../core/frame.js';
import type { VideoSink } from '../core/video-sink.js';

/** One frame as a MemorySink kept it. */
export interface CapturedFrame {
  readonly width: number;
  readonly height: number;
  readonly ptsMs: number;
  /** A copy of the I420 pixels (the renderer's buffer is released at once). */
  readonly data: Uint8Array;
}

/**
 * A VideoSink that keeps everything in memory: for tests, conformance suites and callers
 * that post-process frames themselves. Audio is kept at the rate of its first part
 * (parts at another rate are refused).
 */
export class MemorySink implements VideoSink {
  readonly captured: CapturedFrame[] = [];
  private readonly audioParts: Int16Array[] = [];
  private rate: number | undefined;
  state: 'open' | 'finished' | 'aborted' = 'open';

  get frames(): number {
    return this.captured.length;
  }

  /** Rate of the audio kept (undefined before any audio). */
  get sampleRate(): number | undefined {
    return this.rate;
  }

  /** All audio written, joined. */
  get audio(): Int16Array {
    const out = new Int16Array(this.audioParts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.audioParts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  writeAudio(pcm: Int16Array, sampleRate: number): void {
    this.checkOpen();
    this.rate ??= sampleRate;
    if (sampleRate !== this.rate) throw new Error(`MemorySink keeps one audio rate (${this.rate} Hz), got ${sampleRate} Hz`);
    this.audioParts.push(pcm.slice());
  }

  writeFrame(frame: VideoFrame): Promise<void> {
    this.checkOpen();
    this.captured.push({ width: frame.width, height: frame.height, ptsMs: frame.ptsMs, data: frame.data.slice() });
    frame.release?.();
    return Promise.resolve();
  }

  finish(): Promise<void> {
    this.checkOpen();
    this.state = 'finished';
    return Promise.resolve();
  }

  abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new Error(`MemorySink is ${this.state}`);
  }
}
