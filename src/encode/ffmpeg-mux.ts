import type { Readable, Writable } from 'node:stream';
import { AvatarError } from '../core/errors.js';
import { i420FrameBytes, type VideoFrame } from '../core/frame.js';
import type { VideoSink } from '../core/video-sink.js';
import { resample } from '../audio/resample.js';
import type { H264Encoder } from './encoder-probe.js';
import { aacArgs, ffmpegErrorTail } from './ffmpeg.js';
import { processLauncher, type LaunchedProcess } from './process-launcher.js';

/** Raw inputs of an ffmpeg H.264 + AAC encode. */
export interface MuxInputOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Rate of the mono 16-bit PCM given to writeAudio. */
  readonly sampleRate: number;
  readonly encoder: H264Encoder;
  readonly audioBitrateKbps?: number;
  /** Scheduling niceness of the ffmpeg process above the caller's (0 = as the caller; higher yields the CPU to others). */
  readonly niceness?: number;
  /** Video alone: no audio input or track (the sound of the video is joined elsewhere). */
  readonly videoOnly?: boolean;
}

/** Resolves once `input` has drained or its process has exited (then nothing will drain it). */
export function drainedOrExited(input: Writable, exited: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      input.off('drain', done);
      resolve();
    };
    input.once('drain', done);
    void exited.then(done);
  });
}

/** Frames kept in flight towards ffmpeg before a writer waits: enough to keep it busy, little memory. */
const FRAMES_IN_FLIGHT = 3;

/**
 * One ffmpeg process fed raw I420 frames on stdin and PCM on a second pipe (fd 3), encoding
 * H.264 + AAC (H.264 alone with `videoOnly`) into `target` (a file path, or `pipe:1` to read the container from `stdout`).
 * Shared by the MP4 file writer and the fragmented-MP4 stream writer.
 */
export class FfmpegMuxProcess {
  private readonly video: Writable;
  private readonly audio: Writable;
  private readonly frameBytes: number;
  /** Resolves when ffmpeg has exited (never rejects); `failure` tells how. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  private failureValue: AvatarError | undefined;
  private framesWritten = 0;
  /** The container bytes when the target is `pipe:1`. */
  readonly stdout: Readable | null;

  /** Starts ffmpeg; rejects with `ffmpeg_failed` when it cannot start. */
  static async start(ffmpegPath: string, options: MuxInputOptions, containerArgs: readonly string[], target: string): Promise<FfmpegMuxProcess> {
    const args = [
      '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
      ...options.encoder.globalArgs,
      // Both inputs are fully described by their flags: probing them would block on pipes
      // that are fed only as fast as rendering goes.
      '-probesize', '32', '-analyzeduration', '0',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${options.width}x${options.height}`, '-r', String(options.fps),
      '-color_range', 'tv', '-colorspace', 'bt709', '-i', 'pipe:0',
      ...(options.videoOnly ? ['-map', '0:v'] : ['-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', String(options.sampleRate), '-ac', '1', '-i', 'pipe:3', '-map', '0:v', '-map', '1:a']),
      ...options.encoder.outputArgs,
      '-pix_fmt', 'yuv420p', '-color_range', 'tv', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709',
      ...(options.videoOnly ? [] : aacArgs(options.audioBitrateKbps ?? 96)),
      ...containerArgs, target,
    ];
    const toPipe = target === 'pipe:1';
    let child: LaunchedProcess;
    try {
      child = await processLauncher().launch(ffmpegPath, args, { stdio: ['in', toPipe ? 'out' : 'ignore', 'out', 'in'], ...(options.niceness ? { niceness: options.niceness } : {}) });
    } catch (e) {
      throw new AvatarError('ffmpeg_failed', `could not start ffmpeg: ${(e as Error).message}`, { cause: e });
    }
    return new FfmpegMuxProcess(child, options, toPipe);
  }

  private constructor(private readonly child: LaunchedProcess, private readonly options: MuxInputOptions, toPipe: boolean) {
    this.frameBytes = i420FrameBytes(options.width, options.height);
    this.video = child.stdio[0]!;
    this.audio = child.stdio[3]!;
    this.stdout = toPipe ? child.stdio[1]! : null;
    let stderr = '';
    child.stdio[2]!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    // A dead ffmpeg surfaces through `exited`; pipe errors (EPIPE) are its echo.
    this.video.on('error', () => undefined);
    this.audio.on('error', () => undefined);
    if (options.videoOnly) this.audio.end();
    this.exited = child.closed.then(({ code, signal }) => {
      if (code !== 0) this.failureValue ??= new AvatarError('ffmpeg_failed', `ffmpeg failed (exit ${code ?? signal}): ${ffmpegErrorTail(stderr)}`);
      return { code, stderr };
    });
  }

  /** Why ffmpeg failed, once it has. */
  get failure(): AvatarError | undefined {
    return this.failureValue;
  }

  /** Number of frames accepted so far. */
  get frames(): number {
    return this.framesWritten;
  }

  /** Rate of the PCM ffmpeg reads. */
  get sampleRate(): number {
    return this.options.sampleRate;
  }

  /** Queues audio. Audio must run ahead of (or with) the video it accompanies. */
  writeAudio(pcm: Int16Array): void {
    this.raiseFailure();
    if (this.options.videoOnly) return;
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
      await drainedOrExited(this.video, this.exited);
      this.raiseFailure();
    }
  }

  /** Closes both inputs and waits for ffmpeg; throws its failure, if any. */
  async close(): Promise<void> {
    this.video.end();
    this.audio.end();
    await this.exited;
    this.raiseFailure();
  }

  /** Kills ffmpeg at once and waits for it to go. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private raiseFailure(): void {
    if (this.failureValue) throw this.failureValue;
  }
}

/**
 * What every writer over an ffmpeg mux process offers: audio ahead of video (at any rate:
 * converted to the writer's), frames with back-pressure. Subclasses say where the container
 * goes and how it ends.
 */
export abstract class MuxedWriter implements VideoSink {
  protected constructor(protected readonly mux: FfmpegMuxProcess) {}

  /** Number of frames accepted so far. */
  get frames(): number {
    return this.mux.frames;
  }

  /** Queues audio, converted to the writer's rate. Audio must run ahead of (or with) the video it accompanies. */
  writeAudio(pcm: Int16Array, sampleRate: number = this.mux.sampleRate): void {
    this.mux.writeAudio(sampleRate === this.mux.sampleRate ? pcm : resample(pcm, sampleRate, this.mux.sampleRate));
  }

  /** No more audio will come. */
  endAudio(): void {
    this.mux.endAudio();
  }

  abstract finish(): Promise<void>;
  abstract abort(): Promise<void>;

  /** Queues a frame, waiting when ffmpeg is more than a few frames behind. */
  writeFrame(frame: VideoFrame): Promise<void> {
    return this.mux.writeFrame(frame);
  }
}
