import { readAudioSpeech } from '../audio/read-audio-speech.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { speechToMp4 } from '../pipeline/speech-to-mp4.js';
import type { SayResult } from '../say.js';

/** A lip-sync video from an uploaded recording. */
export interface AudioGenerateRequest {
  readonly audioPath: string;
  readonly output: string;
  readonly avatar: string;
  readonly fps: number;
  readonly width?: number;
  readonly height?: number;
  readonly encoder?: string;
  /** Niceness of the encoder above this process's. */
  readonly encoderNiceness?: number;
}

/** Figures of an audio-driven render (the same meaning as `say`'s). */
export type AudioGenerateResult = Pick<SayResult, 'encoder' | 'width' | 'height' | 'fps' | 'frames' | 'audioS' | 'totalMs'>;

/** Longest recording accepted, s: bounds the work one upload can cause. */
export const MAX_AUDIO_S = 600;

/**
 * Audio file (any format ffmpeg reads) to MP4: the mouth follows the sound alone
 * (AudioMouthTracker, offline mode: the level scale comes from the whole recording and
 * smoothing looks both ways), and the original audio is the soundtrack.
 */
export async function renderAudioToMp4(request: AudioGenerateRequest, catalog: AvatarCatalog, signal: AbortSignal, progress: (f: number) => void): Promise<AudioGenerateResult> {
  const started = performance.now();
  const audio = await readAudioSpeech(request.audioPath, { maxDurationMs: MAX_AUDIO_S * 1000, minDurationMs: 50, sampleRate: 22050, signal, label: 'the recording' });
  const audioS = audio.pcm.length / audio.sampleRate;
  const renderer = await catalog.createRenderer(request.avatar, { fps: request.fps, ...(request.width ? { width: request.width, height: request.height } : {}) });
  const encoder = await chooseEncoder(request.encoder);
  const expectedFrames = Math.max(1, Math.ceil(audioS * request.fps));
  const rendered = await speechToMp4({
    speech: (async function* () { yield audio; })(),
    arrival: 'whole', renderer, encoder, fps: request.fps, output: request.output, signal,
    ...(request.encoderNiceness ? { encoderNiceness: request.encoderNiceness } : {}),
    onFrame: (frames) => { if (frames % 25 === 0) progress((0.95 * frames) / expectedFrames); },
  });
  return { encoder: encoder.name, width: renderer.width, height: renderer.height, fps: request.fps, frames: rendered.frames, audioS, totalMs: performance.now() - started };
}
