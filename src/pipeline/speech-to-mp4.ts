import { resolve } from 'node:path';
import { Prefetch } from '../core/bounded-queue.js';
import type { Speech } from '../core/speech.js';
import type { VideoSink } from '../core/video-sink.js';
import type { H264Encoder } from '../encode/encoder-probe.js';
import { Mp4FileWriter } from '../encode/mp4-writer.js';
import type { Renderer } from '../render/renderer.js';
import { renderTo } from './render-to.js';
import { trackSpeech, type SpeechArrival, type TrackedSpeech } from './track-speech.js';

/** What to render and where. */
export interface SpeechToMp4Options {
  /** Speech parts in order, produced lazily (TTS sentence by sentence, or one decoded file). */
  readonly speech: AsyncIterable<Speech>;
  /** `whole`: one part holds all the speech (a recording); `pieces`: parts arrive over time (a script). */
  readonly arrival: SpeechArrival;
  readonly renderer: Renderer;
  readonly encoder: H264Encoder;
  readonly fps: number;
  /** The MP4 file's path, or where another sink comes from once the audio's rate is known. */
  readonly output: string | ((format: { width: number; height: number; fps: number; sampleRate: number }) => Promise<VideoSink>);
  readonly signal?: AbortSignal;
  /** Called after each speech part is rendered. */
  readonly onPart?: (progress: { parts: number; frames: number; audioMs: number }) => void;
  /** Called after each frame is handed to the encoder, with the frames written so far. */
  readonly onFrame?: (frames: number) => void;
  /** Clock start for firstFrameMs (default: when this function is called). */
  readonly startedAt?: number;
  /**
   * Index of the first frame in a longer video this file is one segment of (default 0):
   * frames are numbered and timed from there, so the avatar's idle motion continues
   * across segments rendered apart.
   */
  readonly startFrame?: number;
  /** Niceness of the encoder above this process's (batch work beside live sessions yields to them). */
  readonly encoderNiceness?: number;
  /** A file `output` gets the video alone (its sound is encoded and joined elsewhere). */
  readonly videoOnly?: boolean;
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

/** Speech parts produced ahead of the one being rendered. */
export const SPEECH_AHEAD = 2;

/**
 * Speech to one MP4 file: `trackSpeech` then `renderTo` an MP4 file sink. The next parts
 * are produced (a bounded few) while the current one is drawn and encoded, so no image
 * touches the disk and nothing waits on anything it need not. The encoder starts with the
 * first part (its audio rate is the file's). The file appears only when complete; on
 * failure or abort the encoder is killed and its temporary file removed.
 */
export async function speechToMp4(options: SpeechToMp4Options): Promise<SpeechToMp4Result> {
  const started = options.startedAt ?? performance.now();
  const { renderer, fps } = options;
  const ahead = options.speech instanceof Prefetch ? options.speech : new Prefetch(options.speech, SPEECH_AHEAD);
  const parts: Speech[] = [];
  const recorded = (async function* () {
    for await (const part of ahead) {
      parts.push(part);
      yield part;
    }
  })();
  const conditioning = renderer.createAudioConditioning?.(fps);
  const steps = trackSpeech(recorded, { fps, arrival: options.arrival, ...(conditioning ? { conditioning } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  // The writer opens once the first part's rate is known; until then nothing is encoded.
  const firstStep = await steps.next();
  if (firstStep.done) throw new Error('speech tracking ended without a step');
  const encodeStarted = performance.now();
  const format = { width: renderer.width, height: renderer.height, fps, sampleRate: parts[0]!.sampleRate };
  const output = options.output;
  const opened: Promise<VideoSink> = typeof output === 'string'
    ? Mp4FileWriter.open({ path: resolve(output), ...format, encoder: options.encoder, ...(options.encoderNiceness ? { niceness: options.encoderNiceness } : {}), ...(options.videoOnly ? { videoOnly: true } : {}) })
    : output(format);
  const writer = await opened.catch(async (e: unknown) => {
    await steps.return(undefined);
    throw e;
  });
  const offset = options.startFrame ?? 0;
  const shift = (step: TrackedSpeech): TrackedSpeech => offset === 0 ? step : {
    ...step, frames: step.frames.map((f) => ({ ...f, index: f.index + offset, ptsMs: ((f.index + offset) * 1000) / fps })),
  };
  const all = (async function* (): AsyncGenerator<TrackedSpeech> {
    yield shift(firstStep.value);
    for await (const step of steps) yield shift(step);
  })();
  const result = await renderTo(writer, all, renderer, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onFrame ? { onFrame: options.onFrame } : {}),
    onStep: ({ audioMs, frames }) => options.onPart?.({ parts: parts.length, frames, audioMs }),
  });
  return {
    ttsMs: result.waitMs + (encodeStarted - started), firstFrameMs: result.firstFrameAt - started, renderMs: result.renderMs,
    encodeMs: performance.now() - encodeStarted, frames: result.frames, parts,
  };
}
