import type { Readable } from 'node:stream';
import { FfmpegMuxProcess, MuxedWriter, type MuxInputOptions } from './ffmpeg-mux.js';
import { locateFfmpeg } from './ffmpeg.js';

/**
 * Encodes frames into a bare H.264 stream (Annex B, no container, no audio) read from
 * `output` while rendering continues: the form in which a segment of a longer video is
 * handed on to be joined with the others. Every segment starts with a keyframe that carries
 * its parameter sets, has no B-frames (decode order is display order) and a keyframe every
 * second, so segments encoded with the same settings can be joined by concatenation.
 * Audio given to it is dropped: the joined video's sound is encoded once, elsewhere.
 */
export class H264StreamWriter extends MuxedWriter {
  private constructor(mux: FfmpegMuxProcess) {
    super(mux);
  }

  /** Starts ffmpeg; read `output` until it ends, then await finish(). */
  static async open(options: Omit<MuxInputOptions, 'sampleRate' | 'videoOnly' | 'audioBitrateKbps'>): Promise<H264StreamWriter> {
    const { path } = await locateFfmpeg();
    // x264 holds frames back for look-ahead; a stream's first frame should leave at once.
    const latency = options.encoder.name === 'libx264' ? ['-tune', 'zerolatency'] : [];
    const containerArgs = [...latency, '-bf', '0', '-g', String(Math.max(1, Math.round(options.fps))), '-flush_packets', '1', '-f', 'h264'];
    return new H264StreamWriter(await FfmpegMuxProcess.start(path, { ...options, sampleRate: 8000, videoOnly: true }, containerArgs, 'pipe:1'));
  }

  /** The H.264 bytes, as ffmpeg writes them. */
  get output(): Readable {
    return this.mux.stdout!;
  }

  /** Dropped: see the class comment. */
  override writeAudio(): void {
    // The joined video's audio is encoded by whoever joins the segments.
  }

  /** Ends the input and waits until ffmpeg has written the last frame. */
  finish(): Promise<void> {
    return this.mux.close();
  }

  /** Stops ffmpeg at once. */
  abort(): Promise<void> {
    return this.mux.kill();
  }
}
