import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { AvatarError } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { probeMedia } from '../encode/media-probe.js';

/** Bounds on an audio file read as speech. */
export interface AudioReadLimits {
  /** Longest recording accepted, ms (default 600 s). Checked before decoding, and decoding stops past it. */
  readonly maxDurationMs?: number;
  /** Shortest, ms (default 100). */
  readonly minDurationMs?: number;
  /** Rate to decode to (default: the file's own, when from 8 to 48 kHz; else 24 kHz). */
  readonly sampleRate?: number;
  readonly signal?: AbortSignal;
  /** How the file is named in messages (default: its base name; never a server path). */
  readonly label?: string;
}

const DEFAULT_MAX_MS = 600_000;
const DEFAULT_MIN_MS = 100;
const DEFAULT_RATE = 24000;

/**
 * Any audio ffmpeg reads (or a video's audio track) as one piece of speech without timings
 * (mono 16-bit PCM). The duration is checked with the media probe before decoding, and the
 * decoder stops at the limit whatever the header claims, so a small file cannot expand
 * into gigabytes. Errors are `invalid_input` with a reason that names the file.
 */
export async function readAudioSpeech(path: string, limits: AudioReadLimits = {}): Promise<Speech> {
  const label = limits.label ?? basename(path);
  const maxMs = limits.maxDurationMs ?? DEFAULT_MAX_MS;
  const minMs = limits.minDurationMs ?? DEFAULT_MIN_MS;
  const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new AvatarError('invalid_input', `cannot read audio file ${label}: ${e.code ?? e.message}`);
  });
  if (!info.isFile()) throw new AvatarError('invalid_input', `cannot read audio file ${label}: not a file`);
  const probe = await probeMedia(path).catch(() => {
    throw new AvatarError('invalid_input', `${label} is not a readable audio file`);
  });
  if (!probe.audio) throw new AvatarError('invalid_input', `${label} holds no audio stream`);
  const own = probe.audio.sampleRate;
  const sampleRate = limits.sampleRate ?? (own >= 8000 && own <= 48000 ? own : DEFAULT_RATE);
  const claimedMs = probe.audio.durationMs ?? probe.durationMs;
  if (claimedMs > maxMs) throw new AvatarError('invalid_input', `${label} is ${Math.round(claimedMs / 1000)} s long; the limit is ${Math.round(maxMs / 1000)} s`);
  const { code, stdout, stderr } = await runFfmpeg(
    ['-loglevel', 'error', '-i', path, '-vn', '-t', ((maxMs + 1000) / 1000).toFixed(3), '-f', 's16le', '-ac', '1', '-ar', String(sampleRate), 'pipe:1'],
    limits.signal ? { signal: limits.signal } : {},
  ).catch((e: unknown) => {
    if (limits.signal?.aborted) throw new AvatarError('aborted', 'the operation was cancelled', { cause: e });
    throw e;
  });
  if (code !== 0) throw new AvatarError('invalid_input', `could not decode ${label}: ${ffmpegErrorTail(stderr).replaceAll(path, label) || `ffmpeg exit ${code}`}`);
  const pcm = new Int16Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + (stdout.byteLength & ~1)));
  const durationMs = (pcm.length * 1000) / sampleRate;
  if (durationMs > maxMs) throw new AvatarError('invalid_input', `${label} is longer than the limit of ${Math.round(maxMs / 1000)} s`);
  if (durationMs < minMs) throw new AvatarError('invalid_input', `${label} is shorter than ${minMs} ms`);
  return { pcm, sampleRate };
}
