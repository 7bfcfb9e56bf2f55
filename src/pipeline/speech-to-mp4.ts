import { resolve } from 'node:path';
import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { H264Encoder } from '../encode/encoder-probe.js';
import { Mp4FileWriter } from '../encode/mp4-writer.js';
import type { AudioConditioning, Renderer } from '../render/renderer.js';
import type { MouthFrame, MouthTracker } from '../visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../visemes/phoneme-track.js';

/**
 * Which mouth tracker follows the speech. `auto`: TTS timings when the speech has them,
 * else the streaming audio tracker. `audio-offline` suits a whole recording (both-way
 * smoothing, its own loudness range).
 */
export type TrackerChoice = 'auto' | 'phonemes' | 'audio-offline' | 'audio-streaming';

/** What to render and where. */
export interface SpeechToMp4Options {
  /** Speech parts in order, produced lazily (TTS sentence by sentence, or one decoded file). */
  readonly speech: AsyncIterable<Speech>;
  readonly tracker: TrackerChoice;
  readonly renderer: Renderer;
  readonly encoder: H264Encoder;
  readonly fps: number;
  readonly output: string;
  readonly signal?: AbortSignal;
  /** Called after each speech part is rendered. */
  readonly onPart?: (progress: { parts: number; frames: number; audioMs: number }) => void;
  /** Called after each frame is handed to the encoder, with the frames written so far. */
  readonly onFrame?: (frames: number) => void;
  /** Clock start for firstFrameMs (default: when this function is called). */
  readonly startedAt?: number;
}

/** Figures of one rendered video. Rendering and encoding overlap. */
export interface SpeechToMp4Result {
  /** Time spent waiting for the next speech part. */
  readonly ttsMs: number;
  /** From `startedAt` to the first frame handed to the encoder. */
  readonly firstFrameMs: number;
  readonly renderMs: number;
  /** Wall time the encoder process ran. */
  readonly encodeMs: number;
  readonly frames: number;
  /** The speech parts, in order (for a WAV of the audio). */
  readonly parts: readonly Speech[];
}

/**
 * Renders speech into one MP4 on one sample clock: each part's audio goes to the encoder
 * and its frames are drawn and piped while the next part is produced, so no image touches
 * the disk. The file appears only when complete; on failure or abort the encoder is killed
 * and its temporary file removed.
 */
export async function speechToMp4(options: SpeechToMp4Options): Promise<SpeechToMp4Result> {
  const started = options.startedAt ?? performance.now();
  const { renderer, fps } = options;
  const parts: Speech[] = [];
  let writer: Mp4FileWriter | undefined;
  let tracker: MouthTracker | undefined;
  // Audio-driven renderers get each frame's audio input; frames wait until it is ready.
  let conditioning: AudioConditioning | undefined;
  const waiting: MouthFrame[] = [];
  let ttsMs = 0;
  let renderMs = 0;
  let firstFrameMs = 0;
  let encodeStarted = 0;
  let audioMs = 0;
  const renderReady = async () => {
    const ready = withAudio(tracker!.takeReady());
    if (ready.length > 0) renderer.plan?.(ready);
    for (const frame of ready) {
      throwIfAborted(options.signal);
      const t0 = performance.now();
      const picture = await renderer.render(frame);
      renderMs += performance.now() - t0;
      await writer!.writeFrame(picture);
      if (firstFrameMs === 0) firstFrameMs = performance.now() - started;
      options.onFrame?.(writer!.frames);
    }
  };
  /** The frames whose audio input is ready, in order, with it attached (all of them without conditioning). */
  const withAudio = (frames: MouthFrame[]): MouthFrame[] => {
    if (!conditioning) return frames;
    waiting.push(...frames);
    let n = 0;
    while (n < waiting.length && conditioning.features(waiting[n]!.index)) n++;
    return waiting.splice(0, n).map((f) => ({ ...f, audio: conditioning!.features(f.index)! }));
  };
  const iterator = options.speech[Symbol.asyncIterator]();
  try {
    for (;;) {
      const t0 = performance.now();
      const next = await iterator.next();
      ttsMs += performance.now() - t0;
      if (next.done) break;
      throwIfAborted(options.signal);
      const part = next.value;
      if (!writer) {
        encodeStarted = performance.now();
        writer = await Mp4FileWriter.open({ path: resolve(options.output), width: renderer.width, height: renderer.height, fps, sampleRate: part.sampleRate, encoder: options.encoder });
        tracker = createTracker(options.tracker, fps, Boolean(part.phonemes));
        conditioning = renderer.createAudioConditioning?.(fps);
      }
      if (part.sampleRate !== parts[0]?.sampleRate && parts.length > 0) {
        throw new AvatarError('invalid_input', `speech parts change sample rate (${parts[0]!.sampleRate} then ${part.sampleRate} Hz)`);
      }
      parts.push(part);
      audioMs += (part.pcm.length * 1000) / part.sampleRate;
      writer.writeAudio(part.pcm);
      tracker!.push(part);
      conditioning?.push(part.pcm, part.sampleRate);
      await renderReady();
      options.onPart?.({ parts: parts.length, frames: writer.frames, audioMs });
    }
    if (!writer || !tracker) throw new AvatarError('tts_failed', 'no speech to render: the speech source produced no audio');
    writer.endAudio();
    tracker.finish();
    conditioning?.finish();
    await renderReady();
    await writer.finish();
  } catch (e) {
    await writer?.abort();
    if (options.signal?.aborted) throw new AvatarError('aborted', 'the operation was cancelled', { cause: e });
    throw e;
  }
  return { ttsMs, firstFrameMs, renderMs, encodeMs: performance.now() - encodeStarted, frames: writer.frames, parts };
}

function createTracker(choice: TrackerChoice, fps: number, hasPhonemes: boolean): MouthTracker {
  if (choice === 'phonemes' || (choice === 'auto' && hasPhonemes)) return new PhonemeMouthTracker(fps);
  return new AudioMouthTracker({ fps, mode: choice === 'audio-offline' ? 'offline' : 'streaming' });
}

/** An iterator whose first item is requested now, so that producing it overlaps other setup. */
export function startedEarly<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  first.catch(() => undefined);
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (let r = await first; !r.done; r = await iterator.next()) yield r.value;
      } finally {
        await iterator.return?.();
      }
    },
  };
}
