import type { Readable } from 'node:stream';
import { FfmpegMuxProcess, MuxedWriter, type MuxInputOptions } from './ffmpeg-mux.js';
import { locateFfmpeg } from './ffmpeg.js';

/**
 * Encodes frames and PCM into fragmented MP4 (H.264 + AAC, `frag_keyframe+empty_moov`)
 * read from `output` while rendering continues: the header comes out before the first
 * frame is encoded, then one fragment per keyframe (one per second). Playable by `<video>`
 * progressive download and by Media Source Extensions.
 */
export class Fmp4StreamWriter extends MuxedWriter {
  private constructor(mux: FfmpegMuxProcess) {
    super(mux);
  }

  /** Starts ffmpeg; read `output` until it ends, then await finish(). */
  static async open(options: MuxInputOptions): Promise<Fmp4StreamWriter> {
    const { path } = await locateFfmpeg();
    const containerArgs = [
      // No B-frames: fragmented MP4 carries no edit list, so B-frame reordering would start
      // the video a few frames after the audio; without them video and audio both start at 0
      // (and the encoder holds back fewer frames).
      '-bf', '0',
      '-g', String(Math.max(1, Math.round(options.fps))),
      '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-flush_packets', '1', '-f', 'mp4',
    ];
    return new Fmp4StreamWriter(await FfmpegMuxProcess.start(path, options, containerArgs, 'pipe:1'));
  }

  /** The container bytes, as ffmpeg writes them. */
  get output(): Readable {
    return this.mux.stdout!;
  }

  /** Ends the inputs and waits until ffmpeg has written the last fragment. */
  finish(): Promise<void> {
    return this.mux.close();
  }

  /** Stops ffmpeg at once (the reader went away). */
  abort(): Promise<void> {
    return this.mux.kill();
  }
}
