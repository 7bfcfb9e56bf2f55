import { spawn, type ChildProcess } from 'node:child_process';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { AvatarError } from '../core/errors.js';
import { i420FrameBytes, type VideoFrame } from '../core/frame.js';
import type { H264Encoder } from './encoder-probe.js';
import { ffmpegErrorTail, locateFfmpeg } from './ffmpeg.js';

/** What the MP4 will hold. */
export interface Mp4Options {
  /** Final path; the file appears there only when complete. */
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Rate of the mono 16-bit PCM given to writeAudio. */
  readonly sampleRate: number;
  readonly encoder: H264Encoder;
  readonly audioBitrateKbps?: number;
}

/** Frames kept in flight towards ffmpeg before a writer waits: enough to keep it busy, little memory. */
const FRAMES_IN_FLIGHT = 3;

/**
 * Streams raw I420 frames (stdin) and PCM (a second pipe) into ffmpeg, which encodes H.264 +
 * AAC into an MP4 with faststart. Writes go to a hidden temporary file beside the target
 * and are renamed into place on success, so a failure never leaves a partial output.
 */
export class Mp4FileWriter {
  private readonly child: ChildProcess;
  private readonly video: Writable;
  private readonly audio: Writable;
  private readonly tempPath: string;
  private readonly frameBytes: number;
  private readonly exited: Promise<{ code: number | null; stderr: string }>;
  private failure: AvatarError | undefined;
  private framesWritten = 0;

  private constructor(private readonly options: Mp4Options, ffmpegPath: string) {
    this.tempPath = join(dirname(options.path), `.${basename(options.path)}.${process.pid}.${Date.now()}.part`);
    this.frameBytes = i420FrameBytes(options.width, options.height);
    const args = [
      '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
      ...options.encoder.globalArgs,
      // Both inputs are fully described by their flags: probing them would block on pipes
      // that are fed only as fast as rendering goes.
      '-probesize', '32', '-analyzeduration', '0',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${options.width}x${options.height}`, '-r', String(options.fps),
      '-color_range', 'tv', '-colorspace', 'bt709', '-i', 'pipe:0',
      '-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', String(options.sampleRate), '-ac', '1', '-i', 'pipe:3',
      '-map', '0:v', '-map', '1:a',
      ...options.encoder.outputArgs,
      '-pix_fmt', 'yuv420p', '-color_range', 'tv', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709',
      '-c:a', 'aac', '-b:a', `${options.audioBitrateKbps ?? 96}k`,
      '-movflags', '+faststart', '-f', 'mp4', this.tempPath,
    ];
    this.child = spawn(ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
    this.video = this.child.stdin!;
    this.audio = this.child.stdio[3] as Writable;
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    // A dead ffmpeg surfaces through `exited`; pipe errors (EPIPE) are its echo.
    this.video.on('error', () => undefined);
    this.audio.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.failure ??= new AvatarError('ffmpeg_failed', `could not start ffmpeg: ${e.message}`, { cause: e });
        resolve({ code: -1, stderr });
      });
      this.child.on('close', (code) => {
        if (code !== 0) this.failure ??= new AvatarError('ffmpeg_failed', `ffmpeg failed (exit ${code}): ${ffmpegErrorTail(stderr)}`);
        resolve({ code, stderr });
      });
    });
  }

  /** Starts ffmpeg; the process runs until finish() or abort(). */
  static async open(options: Mp4Options): Promise<Mp4FileWriter> {
    const { path } = await locateFfmpeg();
    return new Mp4FileWriter(options, path);
  }

  /** Number of frames accepted so far. */
  get frames(): number {
    return this.framesWritten;
  }

  /** Queues audio. Audio must run ahead of (or with) the video it accompanies. */
  writeAudio(pcm: Int16Array): void {
    this.raiseFailure();
    this.audio.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  /** No more audio will come. */
  endAudio(): void {
    this.audio.end();
  }

  /** Queues a frame, waiting when ffmpeg is more than a few frames behind. */
  async writeFrame(frame: VideoFrame): Promise<void> {
    this.raiseFailure();
    if (frame.width !== this.options.width || frame.height !== this.options.height || frame.data.length !== this.frameBytes) {
      throw new AvatarError('invalid_input', `frame is ${frame.width}x${frame.height}, the stream is ${this.options.width}x${this.options.height}`);
    }
    this.video.write(frame.data, () => frame.release?.());
    this.framesWritten++;
    if (this.video.writableLength > FRAMES_IN_FLIGHT * this.frameBytes) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.video.off('drain', done);
          this.child.off('close', done);
          resolve();
        };
        this.video.once('drain', done);
        this.child.once('close', done);
      });
      this.raiseFailure();
    }
  }

  /** Closes the inputs, waits for ffmpeg, and moves the file into place. */
  async finish(): Promise<void> {
    this.video.end();
    this.audio.end();
    await this.exited;
    if (this.failure) {
      await unlink(this.tempPath).catch(() => undefined);
      throw this.failure;
    }
    try {
      await rename(this.tempPath, this.options.path);
    } catch (e) {
      await unlink(this.tempPath).catch(() => undefined);
      throw new AvatarError('output_unwritable', `cannot write ${this.options.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Stops ffmpeg and removes the partial file. */
  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    await unlink(this.tempPath).catch(() => undefined);
  }

  private raiseFailure(): void {
    if (this.failure) throw this.failure;
  }
}
