import { readFile } from 'node:fs/promises';
import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import { decodeAudio } from '../audio/decode-audio.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { Mp4FileWriter } from '../encode/mp4-writer.js';

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

/** Figures of an audio-driven render (the same shape as `say`'s where they overlap). */
export interface AudioGenerateResult {
  readonly encoder: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly frames: number;
  readonly audioS: number;
  readonly totalMs: number;
}

/** Longest recording accepted, s: bounds the work one upload can cause. */
const MAX_AUDIO_S = 600;

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
  const tracker = new AudioMouthTracker({ fps: request.fps, mode: 'offline' });
  tracker.push(audio);
  tracker.finish();
  const frames = tracker.takeReady();
  const writer = await Mp4FileWriter.open({ path: request.output, width: renderer.width, height: renderer.height, fps: request.fps, sampleRate: audio.sampleRate, encoder });
  try {
    writer.writeAudio(audio.pcm);
    writer.endAudio();
    for (const frame of frames) {
      throwIfAborted(signal);
      await writer.writeFrame(await renderer.render(frame));
      if (frame.index % 25 === 0) progress((0.95 * frame.index) / frames.length);
    }
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return { encoder: encoder.name, width: renderer.width, height: renderer.height, fps: request.fps, frames: frames.length, audioS, totalMs: performance.now() - started };
}
