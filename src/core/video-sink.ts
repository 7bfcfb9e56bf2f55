import type { VideoFrame } from './frame.js';

/**
 * Where rendered speech goes: anything that takes audio and frames in order on one clock
 * (frame n shows at n * 1000 / fps ms; audio sample 0 is at 0 ms). The MP4 file writer, the
 * fragmented-MP4 stream writer and the in-memory capture implement it; `renderTo` is the one
 * loop that feeds it.
 */
export interface VideoSink {
  /** Frames accepted so far. */
  readonly frames: number;
  /** Appends speech audio (mono 16-bit PCM at any rate; a sink converts to its own rate). Audio goes in before the frames it accompanies. */
  writeAudio(pcm: Int16Array, sampleRate: number): void;
  /**
   * Appends a frame, and owns it from then on: the sink calls `frame.release` once it no
   * longer reads the pixels. Resolves when the sink can take the next one (back-pressure).
   */
  writeFrame(frame: VideoFrame): Promise<void>;
  /** No more audio or frames: completes the output. Rejects when the output could not be completed. */
  finish(): Promise<void>;
  /** Stops at once and discards what is incomplete. Safe after a failure and more than once. */
  abort(): Promise<void>;
}
