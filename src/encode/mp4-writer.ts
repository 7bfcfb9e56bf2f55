import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AvatarError } from '../core/errors.js';
import type { VideoFrame } from '../core/frame.js';
import type { H264Encoder } from './encoder-probe.js';
import { FfmpegMuxProcess } from './ffmpeg-mux.js';
import { locateFfmpeg } from './ffmpeg.js';

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

/**
 * Streams raw I420 frames (stdin) and PCM (a second pipe) into ffmpeg, which encodes H.264 +
 * AAC into an MP4 with faststart. Writes go to a hidden temporary file beside the target
 * and are renamed into place on success, so a failure never leaves a partial output.
 */
export class Mp4FileWriter {
  private readonly mux: FfmpegMuxProcess;
  private readonly tempPath: string;

  private constructor(private readonly options: Mp4Options, ffmpegPath: string) {
    this.tempPath = join(dirname(options.path), `.${basename(options.path)}.${process.pid}.${Date.now()}.part`);
    this.mux = new FfmpegMuxProcess(ffmpegPath, options, ['-movflags', '+faststart', '-f', 'mp4'], this.tempPath);
  }

  /** Starts ffmpeg; the process runs until finish() or abort(). */
  static async open(options: Mp4Options): Promise<Mp4FileWriter> {
    const { path } = await locateFfmpeg();
    return new Mp4FileWriter(options, path);
  }

  /** Number of frames accepted so far. */
  get frames(): number {
    return this.mux.frames;
  }

  /** Queues audio. Audio must run ahead of (or with) the video it accompanies. */
  writeAudio(pcm: Int16Array): void {
    this.mux.writeAudio(pcm);
  }

  /** No more audio will come. */
  endAudio(): void {
    this.mux.endAudio();
  }

  /** Queues a frame, waiting when ffmpeg is more than a few frames behind. */
  writeFrame(frame: VideoFrame): Promise<void> {
    return this.mux.writeFrame(frame);
  }

  /** Closes the inputs, waits for ffmpeg, and moves the file into place. */
  async finish(): Promise<void> {
    try {
      await this.mux.close();
    } catch (e) {
      await unlink(this.tempPath).catch(() => undefined);
      throw e;
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
    await this.mux.kill();
    await unlink(this.tempPath).catch(() => undefined);
  }
}
