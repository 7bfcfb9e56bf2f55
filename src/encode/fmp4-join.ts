import type { Readable, Writable } from 'node:stream';
import { resample } from '../audio/resample.js';
import { AvatarError } from '../core/errors.js';
import { aacArgs, ffmpegErrorTail, locateFfmpeg } from './ffmpeg.js';
import { processLauncher, type LaunchedProcess } from './process-launcher.js';
import { drainedOrExited } from './ffmpeg-mux.js';

/** H.264 bytes held towards ffmpeg before a writer waits. */
const VIDEO_BYTES_IN_FLIGHT = 1 << 20;

/**
 * Joins segments encoded apart (bare H.264 from H264StreamWriter, concatenated in order)
 * with the whole video's sound (PCM, encoded here once, so it has no seam) into one
 * fragmented MP4 read from `output` as it is written. The video is copied, not re-encoded:
 * this costs little CPU. Frame n of the concatenation shows at n / fps s, so a segment
 * whose audio spans exactly its frames keeps picture and sound together across joins.
 */
export class Fmp4Joiner {
  private readonly video: Writable;
  private readonly audio: Writable;
  private failureValue: AvatarError | undefined;
  /** Resolves when ffmpeg has exited (never rejects). */
  private readonly exited: Promise<void>;

  private constructor(private readonly child: LaunchedProcess, private readonly options: { fps: number; sampleRate: number }) {
    this.video = child.stdio[0]!;
    this.audio = child.stdio[3]!;
    this.video.on('error', () => undefined);
    this.audio.on('error', () => undefined);
    let stderr = '';
    child.stdio[2]!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    this.exited = child.closed.then(({ code, signal }) => {
      if (code !== 0) this.failureValue ??= new AvatarError('ffmpeg_failed', `joining the stream's segments failed (exit ${code ?? signal}): ${ffmpegErrorTail(stderr)}`);
    });
  }

  /** Starts ffmpeg; `sampleRate` is the rate of the PCM it encodes (other rates are converted). Rejects with `ffmpeg_failed` when it cannot start. */
  static async open(options: { fps: number; sampleRate: number }): Promise<Fmp4Joiner> {
    const { path } = await locateFfmpeg();
    const args = [
      '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
      // The inputs are described by their flags; probing would wait on pipes fed as rendering goes.
      '-probesize', '32', '-analyzeduration', '0', '-f', 'h264', '-framerate', String(options.fps), '-i', 'pipe:0',
      '-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', String(options.sampleRate), '-ac', '1', '-i', 'pipe:3',
      '-map', '0:v', '-map', '1:a', '-c:v', 'copy', ...aacArgs(96),
      // The AAC encoder's priming delays the sound by 1024 samples, and fragmented MP4 has
      // no edit list to take it back: ffmpeg's default shift delays every frame but the
      // first by as much (the first shows that much longer), which keeps lips on the sound.
      '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-flush_packets', '1', '-f', 'mp4', 'pipe:1',
    ];
    try {
      return new Fmp4Joiner(await processLauncher().launch(path, args, { stdio: ['in', 'out', 'out', 'in'] }), options);
    } catch (e) {
      throw new AvatarError('ffmpeg_failed', `could not start ffmpeg: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The fragmented MP4, as ffmpeg writes it. */
  get output(): Readable {
    return this.child.stdio[1]!;
  }

  /** Appends sound (mono 16-bit PCM); it should run ahead of (or with) the video it accompanies. */
  writeAudio(pcm: Int16Array, sampleRate: number): void {
    this.raiseFailure();
    const converted = sampleRate === this.options.sampleRate ? pcm : resample(pcm, sampleRate, this.options.sampleRate);
    this.audio.write(Buffer.from(converted.buffer, converted.byteOffset, converted.byteLength));
  }

  /** Appends H.264 bytes, waiting while ffmpeg is behind. */
  async writeVideo(bytes: Buffer): Promise<void> {
    this.raiseFailure();
    this.video.write(bytes);
    if (this.video.writableLength > VIDEO_BYTES_IN_FLIGHT) {
      await drainedOrExited(this.video, this.exited);
      this.raiseFailure();
    }
  }

  /** Ends both inputs and waits until the last fragment is written; throws ffmpeg's failure. */
  async finish(): Promise<void> {
    this.video.end();
    this.audio.end();
    await this.exited;
    this.raiseFailure();
  }

  /** Stops at once. */
  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private raiseFailure(): void {
    if (this.failureValue) throw this.failureValue;
  }
}
