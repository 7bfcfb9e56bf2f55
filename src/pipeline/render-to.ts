import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { Renderer } from '../render/renderer.js';
import type { TrackedSpeech } from './track-speech.js';
import type { VideoSink } from '../core/video-sink.js';

/** How `renderTo` runs. */
export interface RenderToOptions {
  readonly signal?: AbortSignal;
  /** Awaited before each frame is drawn (index from the start): where a consumer's pace limits rendering. */
  readonly pace?: (frameIndex: number) => Promise<void> | void;
  /** Called after each frame is handed to the sink, with the frames written so far. */
  readonly onFrame?: (frames: number) => void;
  /** Called after each step of speech is rendered. */
  readonly onStep?: (step: { audioMs: number; frames: number }) => void;
}

/** Figures of one `renderTo` run. */
export interface RenderToResult {
  readonly frames: number;
  /** Time inside the renderer. */
  readonly renderMs: number;
  /** performance.now() when the first frame reached the sink (0 when none did). */
  readonly firstFrameAt: number;
  /** Time spent waiting for the next step of tracked speech (synthesis, decoding). */
  readonly waitMs: number;
  readonly audioMs: number;
}

/**
 * The one render loop: for each step of tracked speech, its audio goes to the sink, then its
 * frames are planned (look-ahead), drawn and written in order. The sink's back-pressure
 * paces drawing. On success the sink is finished; on failure or abort it is aborted
 * (partial output discarded) and the error rethrown (`aborted` when the signal fired).
 */
export async function renderTo(sink: VideoSink, steps: AsyncIterable<TrackedSpeech>, renderer: Renderer, options: RenderToOptions = {}): Promise<RenderToResult> {
  let renderMs = 0;
  let waitMs = 0;
  let firstFrameAt = 0;
  let audioMs = 0;
  const iterator = steps[Symbol.asyncIterator]();
  try {
    for (;;) {
      const t0 = performance.now();
      const next = await iterator.next();
      waitMs += performance.now() - t0;
      if (next.done) break;
      throwIfAborted(options.signal);
      const { speech, frames } = next.value;
      if (speech) {
        sink.writeAudio(speech.pcm, speech.sampleRate);
        audioMs += (speech.pcm.length * 1000) / speech.sampleRate;
      }
      if (frames.length > 0) renderer.plan?.(frames);
      for (const frame of frames) {
        await options.pace?.(frame.index);
        throwIfAborted(options.signal);
        const t1 = performance.now();
        const picture = await renderer.render(frame);
        renderMs += performance.now() - t1;
        await sink.writeFrame(picture);
        if (firstFrameAt === 0) firstFrameAt = performance.now();
        options.onFrame?.(sink.frames);
      }
      options.onStep?.({ audioMs, frames: sink.frames });
    }
    throwIfAborted(options.signal);
    await sink.finish();
  } catch (e) {
    await sink.abort();
    await iterator.return?.().catch(() => undefined);
    if (options.signal?.aborted && !(e instanceof AvatarError && e.code === 'aborted')) throw new AvatarError('aborted', 'the operation was cancelled', { cause: e });
    throw e;
  }
  return { frames: sink.frames, renderMs, firstFrameAt, waitMs, audioMs };
}
