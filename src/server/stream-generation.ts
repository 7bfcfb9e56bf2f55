import type { Readable } from 'node:stream';
import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import { resample } from '../audio/resample.js';
import { AvatarError } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { H264Encoder } from '../encode/encoder-probe.js';
import { Fmp4StreamWriter } from '../encode/fmp4-stream.js';
import type { TtsProvider } from '../tts/provider.js';
import { splitSentences } from '../tts/sentences.js';
import type { MouthTracker } from '../visemes/mouth-params.js';
import type { RendererCache } from './realtime/renderer-cache.js';
import type { GenerateRequest } from './request-checks.js';
import { PhonemeMouthTracker } from '../visemes/phoneme-track.js';

/** A validated request for a streamed video (a generate request without `async`). */
export type StreamRequest = Omit<GenerateRequest, 'async'>;

/** What the route needs to answer, and the figures once the stream ends. */
export interface StartedStream {
  readonly output: Readable;
  readonly width: number;
  readonly height: number;
  /** Seconds of video: exact when the whole text was synthesized before the headers went out. */
  readonly durationS: number;
  readonly durationEstimated: boolean;
  readonly ttsFirstMs: number;
  /** Settles when the last byte is written (or rejects on failure/abort). */
  readonly done: Promise<{ frames: number; totalMs: number }>;
}

/** Audio rate of streamed MP4s (espeak's own rate, so its speech needs no resampling). */
const STREAM_SAMPLE_RATE = 22050;

/** Streams encode faster than real time; under contention, realtime sessions come first. */
const STREAM_NICENESS = 5;

/** Fastest a stream is rendered, as a multiple of real time, after its head start (ms of video). */
const STREAM_MAX_SPEED = 4;
const STREAM_HEAD_START_MS = 2000;

/** Longest the headers wait for the rest of the text to be synthesized, to state an exact duration. */
const HEADER_WAIT_MS = 100;

/**
 * Text to fragmented MP4 while it renders: speech is synthesized sentence by sentence,
 * each sentence's frames are drawn and fed to ffmpeg, and the container bytes flow out as
 * ffmpeg writes them. Aborting `signal` stops synthesis, rendering and ffmpeg at once.
 */
export async function startStreamGeneration(
  request: StreamRequest,
  deps: { renderers: RendererCache; tts: TtsProvider; encoder: Promise<H264Encoder>; signal: AbortSignal; onFrames?: (n: number) => void },
): Promise<StartedStream> {
  const started = performance.now();
  const { signal } = deps;
  const stream = deps.tts.synthesize({ text: request.text, language: request.language, ...(request.voice ? { voice: request.voice } : {}) }, signal)[Symbol.asyncIterator]();
  const rendererRequest = { fps: request.fps, ...(request.width ? { width: request.width } : {}), ...(request.height ? { height: request.height } : {}) };
  const rendererReady = deps.renderers.checkout(request.avatar, rendererRequest);
  // ffmpeg starts while the first sentence is synthesized: its audio input runs at a fixed
  // rate, and speech at any other rate is resampled to it.
  const writerReady = Promise.all([rendererReady, deps.encoder]).then(([r, encoder]) =>
    Fmp4StreamWriter.open({ width: r.width, height: r.height, fps: request.fps, sampleRate: STREAM_SAMPLE_RATE, encoder, niceness: STREAM_NICENESS }));
  writerReady.catch(() => undefined);
  let first: IteratorResult<Speech>;
  try {
    first = await stream.next();
    if (first.done) throw new AvatarError('tts_failed', 'the TTS produced no audio');
    await writerReady;
  } catch (e) {
    await writerReady.then((w) => w.abort(), () => undefined);
    await rendererReady.then((r) => deps.renderers.checkin(request.avatar, rendererRequest, r), () => undefined);
    throw e;
  }
  const ttsFirstMs = performance.now() - started;
  const renderer = await rendererReady;
  const writer = await writerReady;
  const sentenceChars = splitSentences(request.text).map((s) => s.length);
  const totalChars = sentenceChars.reduce((a, b) => a + b, 0);
  const tracker: MouthTracker = first.value.phonemes ? new PhonemeMouthTracker(request.fps) : new AudioMouthTracker({ fps: request.fps, mode: 'streaming' });

  // Speech is pulled ahead of rendering into this list so that the duration is known early.
  const parts: Speech[] = [first.value];
  let ttsDone = false;
  let ttsError: unknown;
  let wake: (() => void) | undefined;
  const pull = (async () => {
    try {
      for (;;) {
        const next = await stream.next();
        if (next.done) break;
        parts.push(next.value);
        wake?.();
      }
    } catch (e) {
      ttsError = e;
    } finally {
      ttsDone = true;
      wake?.();
    }
  })();
  const waitForSpeech = (ms?: number) => new Promise<void>((resolve) => {
    const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
    wake = () => {
      if (timer) clearTimeout(timer);
      wake = undefined;
      resolve();
    };
  });

  const headerDeadline = performance.now() + HEADER_WAIT_MS;
  while (!ttsDone && performance.now() < headerDeadline) await waitForSpeech(headerDeadline - performance.now());
  const audioMs = (list: Speech[]) => list.reduce((sum, s) => sum + (s.pcm.length * 1000) / s.sampleRate, 0);
  const knownMs = audioMs(parts);
  const charsKnown = sentenceChars.slice(0, parts.length).reduce((a, b) => a + b, 0) || 1;
  const durationMs = ttsDone ? knownMs : (knownMs * totalChars) / charsKnown;

  // A player consumes the stream at 1x: beyond a head start, rendering faster than a few
  // times real time only takes the CPU from live sessions.
  let firstFrameAt: number | undefined;
  const pace = async (frameIndex: number) => {
    firstFrameAt ??= performance.now();
    const aheadMs = (frameIndex * 1000) / request.fps - (performance.now() - firstFrameAt) * STREAM_MAX_SPEED;
    if (aheadMs > STREAM_HEAD_START_MS) await new Promise((r) => setTimeout(r, (aheadMs - STREAM_HEAD_START_MS) / STREAM_MAX_SPEED));
  };
  const renderLoop = async (): Promise<{ frames: number; totalMs: number }> => {
    let used = 0;
    try {
      for (;;) {
        while (used < parts.length) {
          const speech = parts[used++]!;
          writer.writeAudio(resample(speech.pcm, speech.sampleRate, STREAM_SAMPLE_RATE));
          tracker.push(speech);
          for (const frame of tracker.takeReady()) {
            await pace(frame.index);
            if (signal.aborted) throw new AvatarError('aborted', 'the client went away');
            await writer.writeFrame(await renderer.render(frame));
            deps.onFrames?.(1);
          }
        }
        if (ttsDone) break;
        await waitForSpeech();
      }
      await pull;
      if (ttsError) throw ttsError;
      writer.endAudio();
      tracker.finish();
      for (const frame of tracker.takeReady()) {
        await pace(frame.index);
        if (signal.aborted) throw new AvatarError('aborted', 'the client went away');
        await writer.writeFrame(await renderer.render(frame));
        deps.onFrames?.(1);
      }
      await writer.finish();
      return { frames: writer.frames, totalMs: performance.now() - started };
    } catch (e) {
      await writer.abort();
      throw e;
    }
  };
  const onAbort = () => void writer.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const done = renderLoop().finally(() => {
    signal.removeEventListener('abort', onAbort);
    deps.renderers.checkin(request.avatar, rendererRequest, renderer);
  });
  done.catch(() => undefined);
  return {
    output: writer.output, width: renderer.width, height: renderer.height,
    durationS: Math.round(durationMs) / 1000, durationEstimated: !ttsDone, ttsFirstMs, done,
  };
}
