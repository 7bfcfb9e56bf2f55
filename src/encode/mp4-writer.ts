import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AvatarError } from '../core/errors.js';
import { FfmpegMuxProcess, MuxedWriter, type MuxInputOptions } from './ffmpeg-mux.js';
import { locateFfmpeg } from './ffmpeg.js';

/** What the MP4 will hold. */
export interface Mp4Options extends MuxInputOptions {
  /** Final path; the file appears there only when complete. */
  readonly path: string;
}

/**
 * Streams raw I420 frames (stdin) and PCM (a second pipe) into ffmpeg, which encodes H.264 +
 * AAC into an MP4 with faststart. Writes go to a hidden temporary file beside the target
 * and are renamed into place on success, so a failure never leaves a partial output.
 */
export class Mp4FileWriter extends MuxedWriter {
  private constructor(private readonly options: Mp4Options, mux: FfmpegMuxProcess, private readonly tempPath: string) {
    super(mux);
  }

  /** Starts ffmpeg; the process runs until finish() or abort(). */
  static async open(options: Mp4Options): Promise<Mp4FileWriter> {
    const { path } = await locateFfmpeg();
    const tempPath = join(dirname(options.path), `.${basename(options.path)}.${process.pid}.${Date.now()}.part`);
    return new Mp4FileWriter(options, await FfmpegMuxProcess.start(path, options, ['-movflags', '+faststart', '-f', 'mp4'], tempPath), tempPath);
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
