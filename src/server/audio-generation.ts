import { readFile } from 'node:fs/promises';
import { decodeAudio } from '../audio/decode-audio.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
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
  const audio = await decodeAudio(await readFile(request.audioPath), { sampleRate: 22050, signal });
  const audioS = audio.pcm.length / audio.sampleRate;
  if (audioS < 0.05) throw new AvatarError('invalid_input', 'the recording holds no audio');
  if (audioS > MAX_AUDIO_S) throw new AvatarError('invalid_input', `the recording is ${Math.round(audioS)} s long; the limit is ${MAX_AUDIO_S} s`);
  const renderer = await catalog.createRenderer(request.avatar, { fps: request.fps, ...(request.width ? { width: request.width, height: request.height } : {}) });
  const encoder = await chooseEncoder(request.encoder);
  const expectedFrames = Math.max(1, Math.ceil(audioS * request.fps));
  const rendered = await speechToMp4({
    speech: (async function* () { yield { pcm: audio.pcm, sampleRate: audio.sampleRate }; })(),
    tracker: 'audio-offline', renderer, encoder, fps: request.fps, output: request.output, signal,
    onFrame: (frames) => { if (frames % 25 === 0) progress((0.95 * frames) / expectedFrames); },
  });
  return { encoder: encoder.name, width: renderer.width, height: renderer.height, fps: request.fps, frames: rendered.frames, audioS, totalMs: performance.now() - started };
}
