import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { AvatarError } from '../core/errors.js';
import { ffmpegErrorTail, locateFfmpeg, runFfmpeg } from '../encode/ffmpeg.js';
import { probeMedia } from '../encode/media-probe.js';

/** What a source file holds, found from its content (not its name). */
export interface MediaInfo {
  readonly kind: 'image' | 'video';
  readonly width: number;
  readonly height: number;
  /** Video only. */
  readonly durationMs?: number;
  readonly fps?: number;
  readonly hasAudio: boolean;
}

/** An RGB picture, 3 bytes a pixel. */
export interface RgbImage {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Images sharp reads as stills; anything else goes to ffmpeg. */
const STILL_FORMATS = new Set(['jpeg', 'png', 'webp', 'tiff', 'avif', 'heif', 'bmp']);

/** Probes a file: a still image (read by sharp) or a video (the media probe). */
export async function probeSource(path: string): Promise<MediaInfo> {
  const meta = await sharp(path).metadata().catch(() => undefined);
  if (meta?.format && STILL_FORMATS.has(meta.format) && meta.width && meta.height) {
    return { kind: 'image', width: meta.width, height: meta.height, hasAudio: false };
  }
  const probe = await probeMedia(path).catch((e: unknown) => {
    throw new AvatarError('invalid_input', `${path}: not a readable image or video (${e instanceof AvatarError ? e.message.replace(`${path}`, 'file') : 'unreadable'})`);
  });
  const video = probe.video;
  if (!video || !(video.width > 0 && video.height > 0)) throw new AvatarError('invalid_input', `${path}: not a readable image or video (no video stream)`);
  const durationMs = video.durationMs ?? probe.durationMs;
  return {
    kind: 'video', width: video.width, height: video.height,
    ...(durationMs > 0 ? { durationMs: Math.round(durationMs) } : {}),
    ...(video.fps > 0 ? { fps: video.fps } : {}),
    hasAudio: Boolean(probe.audio),
  };
}

/** Output size for a source: scaled to fit `maxSide`, both sides even. */
export function fitSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const even = (v: number) => Math.max(2, Math.round((v * scale) / 2) * 2);
  return { width: even(width), height: even(height) };
}

/** Reads a still image (or the part `crop` = x, y, width, height of it) as RGB at the given (even) size. */
export async function readImageRgb(path: string, width: number, height: number, crop?: readonly [number, number, number, number]): Promise<RgbImage> {
  const image = sharp(path).rotate().removeAlpha();
  if (crop) image.extract({ left: crop[0], top: crop[1], width: crop[2], height: crop[3] });
  const rgb = await image.resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return { rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), width, height };
}

/** Which part of a video to read, and how. */
export interface VideoReadOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly startMs?: number;
  readonly durationMs?: number;
  /** The part of the picture to keep (x, y, width, height in source pixels). */
  readonly crop?: readonly [number, number, number, number];
  readonly signal?: AbortSignal;
}

/**
 * Decodes a video to RGB frames at a fixed fps and size, one frame at a time through a
 * pipe: memory stays at a few frames whatever the video's length.
 */
export async function* readVideoFrames(path: string, options: VideoReadOptions): AsyncGenerator<RgbImage> {
  const { path: ffmpeg } = await locateFfmpeg();
  const args = ['-hide_banner', '-nostats', '-loglevel', 'error'];
  if (options.startMs) args.push('-ss', (options.startMs / 1000).toFixed(3));
  if (options.durationMs) args.push('-t', (options.durationMs / 1000).toFixed(3));
  const crop = options.crop ? `crop=${options.crop[2]}:${options.crop[3]}:${options.crop[0]}:${options.crop[1]},` : '';
  args.push('-i', path, '-an', '-vf', `${crop}fps=${options.fps},scale=${options.width}:${options.height}:flags=area,format=rgb24`, '-f', 'rawvideo', 'pipe:1');
  const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.on('error', () => undefined);
  const frameBytes = options.width * options.height * 3;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        const frame = new Uint8Array(frameBytes);
        frame.set(all.subarray(0, frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
        yield { rgb: frame, width: options.width, height: options.height };
      }
    }
    const code = await exited;
    if (code !== 0 && !options.signal?.aborted) {
      throw new AvatarError('invalid_input', `${path}: video could not be decoded (${ffmpegErrorTail(stderr, 2) || `ffmpeg exit ${code}`})`);
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Writes a video's audio track (a cut of it) as 16 kHz mono WAV. */
export async function extractAudio(path: string, output: string, startMs?: number, durationMs?: number): Promise<void> {
  const args: string[] = [];
  if (startMs) args.push('-ss', (startMs / 1000).toFixed(3));
  if (durationMs) args.push('-t', (durationMs / 1000).toFixed(3));
  args.push('-i', path, '-vn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-y', output);
  const { code, stderr } = await runFfmpeg(args);
  if (code !== 0) throw new AvatarError('ffmpeg_failed', `${path}: audio could not be extracted (${ffmpegErrorTail(stderr, 2)})`);
}
