import { AvatarError } from '../core/errors.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { decodeWav, looksLikeWav, type PcmAudio } from './wav.js';

/**
 * Decodes any audio ffmpeg reads (MP3, Opus, AAC, FLAC, WAV in any encoding, video files'
 * audio tracks) to mono 16-bit PCM. Plain PCM WAV is decoded in-process.
 */
export async function decodeAudio(bytes: Uint8Array, options: { sampleRate?: number; signal?: AbortSignal } = {}): Promise<PcmAudio> {
  if (looksLikeWav(bytes) && !options.sampleRate) {
    try {
      return decodeWav(bytes);
    } catch {
      // An encoding the in-process reader does not handle: let ffmpeg try.
    }
  }
  const sampleRate = options.sampleRate ?? 24000;
  const { code, stdout, stderr } = await runFfmpeg(
    ['-loglevel', 'error', '-i', 'pipe:0', '-vn', '-f', 's16le', '-ac', '1', '-ar', String(sampleRate), 'pipe:1'],
    { input: bytes, ...(options.signal ? { signal: options.signal } : {}) },
  );
  if (code !== 0) throw new AvatarError('invalid_input', `could not decode audio: ${ffmpegErrorTail(stderr) || `ffmpeg exit ${code}`}`);
  const pcm = new Int16Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + (stdout.byteLength & ~1)));
  return { pcm, sampleRate };
}
