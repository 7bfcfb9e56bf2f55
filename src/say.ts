import { constants as fsConstants } from 'node:fs';
import { access, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { encodeWav } from './audio/wav.js';
import { BuiltinAvatarCatalog, type AvatarCatalog } from './avatars/catalog.js';
import { AvatarError } from './core/errors.js';
import { checkSpeakText } from './core/speak-text.js';
import { concatSpeech, type Speech } from './core/speech.js';
import { chooseEncoder } from './encode/encoder-probe.js';
import { readAudioSpeech } from './audio/read-audio-speech.js';
import { Prefetch } from './core/bounded-queue.js';
import { SPEECH_AHEAD, speechToMp4 } from './pipeline/speech-to-mp4.js';
import { parseSize } from './render/renderer.js';
import { createTtsProvider } from './tts/create-tts.js';
import { resolveLanguage } from './tts/language.js';
import type { TtsProvider } from './tts/provider.js';
import { splitSentences } from './tts/sentences.js';

/** Limits that keep one request from taking the machine. */
export const SAY_LIMITS = { maxTextChars: 20000, minFps: 1, maxFps: 60 } as const;

/** What `say` should produce. */
export interface SayOptions {
  /** What to say (not needed when `audio` is given). */
  readonly text: string;
  /**
   * Lip-sync to this audio file (any format ffmpeg reads) instead of speaking `text`;
   * the mouth track then comes from the sound alone.
   */
  readonly audio?: string;
  /** Output MP4 path. */
  readonly output: string;
  /** `auto` (default) or a language code: en, es, zh, ... */
  readonly language?: string;
  readonly voice?: string;
  readonly rate?: number;
  readonly pitch?: number;
  /** Avatar id (default `default`, the built-in drawn avatar). */
  readonly avatar?: string;
  /** Where avatar ids are looked up (default: the built-in avatars only). */
  readonly catalog?: AvatarCatalog;
  readonly fps?: number;
  /** `512` or `640x480` (default: the avatar's own size). */
  readonly size?: string | number;
  /** Force an encoder (else the fastest that works here). */
  readonly encoder?: string;
  /** Niceness of the encoder above this process's (0: the same). */
  readonly encoderNiceness?: number;
  /** Also write the speech as a WAV file here. */
  readonly audioOut?: string;
  /** A provider instance, or a provider name (`espeak`, `openai`). */
  readonly tts?: TtsProvider | string;
  readonly signal?: AbortSignal;
  /** Called after each sentence is rendered. */
  readonly onProgress?: (progress: SayProgress) => void;
}

/** Progress through a long script. */
export interface SayProgress {
  readonly sentencesDone: number;
  readonly sentences: number;
  readonly frames: number;
  readonly audioMs: number;
}

/** Figures of one `say` run. Rendering and encoding overlap, so their times do not add up to the total. */
export interface SayResult {
  readonly output: string;
  readonly language: string;
  readonly voice: string | undefined;
  readonly encoder: string;
  /** The lip-sync renderer used, and where its inference ran for neural ones. */
  readonly renderer: string;
  readonly executionProvider?: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly frames: number;
  readonly audioS: number;
  /** Time spent inside the TTS provider. */
  readonly ttsMs: number;
  /** Time spent drawing frames. */
  readonly renderMs: number;
  /** Wall time the encoder process ran (overlaps rendering). */
  readonly encodeMs: number;
  readonly totalMs: number;
  /** From the call to the first video frame handed to the encoder (text in, first picture out). */
  readonly firstFrameMs: number;
  /** totalMs / audio duration: below 1 is faster than real time. */
  readonly realtimeFactor: number;
}

/** Checks options and output paths before any work starts; throws AvatarError on bad input. */
export async function validateSayOptions(options: SayOptions): Promise<{ fps: number; width?: number; height?: number; language: string }> {
  if (options.audio && options.text?.trim()) throw new AvatarError('invalid_input', 'give either text or an audio file, not both');
  const text = options.audio ? '' : checkSpeakText(options.text ?? '', SAY_LIMITS.maxTextChars, 'the text');
  const fps = options.fps ?? 25;
  if (!Number.isInteger(fps) || fps < SAY_LIMITS.minFps || fps > SAY_LIMITS.maxFps) {
    throw new AvatarError('invalid_input', `fps must be a whole number from ${SAY_LIMITS.minFps} to ${SAY_LIMITS.maxFps}, got ${options.fps}`);
  }
  let size: { width?: number; height?: number } = {};
  try {
    if (options.size !== undefined) size = parseSize(options.size);
  } catch (e) {
    throw new AvatarError('invalid_input', (e as Error).message);
  }
  const language = options.audio ? (options.language && options.language !== 'auto' ? resolveLanguage(options.language, text).code : 'und') : resolveLanguage(options.language, text).code;
  for (const path of [options.output, options.audioOut]) if (path) await checkWritable(path);
  return { fps, ...size, language };
}

async function checkWritable(path: string): Promise<void> {
  const full = resolve(path);
  const existing = await stat(full).catch(() => undefined);
  if (existing?.isDirectory()) throw new AvatarError('output_unwritable', `output ${path} is a directory`);
  try {
    // access() alone passes a plain file for root: the parent must be a folder.
    if (!(await stat(dirname(full))).isDirectory()) throw new Error('not a folder');
    await access(dirname(full), fsConstants.W_OK);
  } catch {
    throw new AvatarError('output_unwritable', `cannot write ${path}: its folder does not exist or is not writable`);
  }
}

/**
 * Text to a lip-synced talking-head MP4 (H.264 + AAC, faststart). Speech is synthesized
 * sentence by sentence; each sentence's frames are drawn and piped to ffmpeg while the next
 * is synthesized, so rendering and encoding overlap and no image touches the disk. The
 * file appears only when complete.
 */
export async function say(options: SayOptions): Promise<SayResult> {
  const started = performance.now();
  // The TTS engine (a worker thread) and the encoder choice (ffmpeg processes) start first,
  // while this thread checks the input and detects the language.
  const tts = options.audio ? undefined : typeof options.tts === 'object' ? options.tts : createTtsProvider(options.tts);
  tts?.warmUp?.().catch(() => undefined);
  const encoderChoice = chooseEncoder(options.encoder);
  encoderChoice.catch(() => undefined);
  const { fps, width: wantedWidth, height: wantedHeight, language } = await validateSayOptions(options);
  let source: AsyncIterable<Speech>;
  if (!tts) {
    source = audioFileSpeech(options.audio!, options.signal);
  } else {
    if (options.voice) await tts.checkVoice(options.voice, language);
    source = tts.synthesize({ text: options.text, language, ...pick(options) }, options.signal);
  }
  // Speech is produced from now on, while the avatar and the encoder are prepared here.
  const speech = new Prefetch(source, SPEECH_AHEAD);
  const catalog = options.catalog ?? new BuiltinAvatarCatalog();
  const renderer = await catalog.createRenderer(options.avatar ?? 'default', {
    fps, ...(wantedWidth ? { width: wantedWidth } : {}), ...(wantedHeight ? { height: wantedHeight } : {}),
  });
  const encoder = await encoderChoice;
  const sentences = options.audio ? 1 : splitSentences(options.text).length;
  const rendered = await speechToMp4({
    speech, renderer, encoder, fps, output: options.output, startedAt: started,
    arrival: options.audio ? 'whole' : 'pieces',
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.encoderNiceness ? { encoderNiceness: options.encoderNiceness } : {}),
    onPart: ({ parts, frames, audioMs }) => options.onProgress?.({ sentencesDone: parts, sentences, frames, audioMs }),
  });
  const all = concatSpeech(rendered.parts);
  if (options.audioOut) await writeFileAtomic(options.audioOut, encodeWav(all));
  const totalMs = performance.now() - started;
  const audioS = all.pcm.length / all.sampleRate;
  return {
    output: resolve(options.output), language, voice: all.voice, encoder: encoder.name, renderer: renderer.name,
    ...(renderer.executionProvider ? { executionProvider: renderer.executionProvider } : {}),
    width: renderer.width, height: renderer.height, fps, frames: rendered.frames, audioS,
    ttsMs: rendered.ttsMs, renderMs: rendered.renderMs, encodeMs: rendered.encodeMs, totalMs,
    firstFrameMs: rendered.firstFrameMs, realtimeFactor: totalMs / (audioS * 1000),
  };
}

/** An audio file as one piece of speech. */
async function* audioFileSpeech(path: string, signal?: AbortSignal): AsyncGenerator<Speech> {
  yield await readAudioSpeech(path, { label: path, ...(signal ? { signal } : {}) });
}

function pick(options: SayOptions): { voice?: string; rate?: number; pitch?: number } {
  return {
    ...(options.voice ? { voice: options.voice } : {}),
    ...(options.rate !== undefined ? { rate: options.rate } : {}),
    ...(options.pitch !== undefined ? { pitch: options.pitch } : {}),
  };
}

/** Writes a file via a temporary name, so readers never see half of it. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.part`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw new AvatarError('output_unwritable', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

