import { createSocket, type Socket } from 'node:dgram';
import type { VideoFrame } from '../../core/frame.js';
import { processLauncher, type LaunchedProcess } from '../../encode/process-launcher.js';
import type { EncoderInput, EncoderInputSource, PaintRequest } from '../../pipeline/realtime/frame-painter.js';

/** Video codecs the WebRTC transport negotiates. */
export type WebRtcVideoCodec = 'VP8' | 'H264';

/** Settings of one session's video encoder. */
export interface RtpVideoEncoderOptions {
  readonly codec: WebRtcVideoCodec;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Target bitrate at the start, kbit/s (setBitrate changes it). */
  readonly kbps: number;
  /** The ffmpeg executable (with libvpx for VP8, libx264 for H.264). */
  readonly ffmpeg: string;
}

/** One RTP packet of an encoded frame, with the frame's presentation time on the session clock. */
export interface EncodedRtpPacket {
  /** A whole RTP packet (12-byte header, payload); its timestamp and sequence number are the caller's to set. */
  readonly packet: Buffer;
  readonly ptsMs: number;
  /** Last packet of its frame (the RTP marker bit). */
  readonly last: boolean;
}

/** Frames written but not yet encoded beyond which new frames are skipped (the encoder is behind). */
const MAX_PENDING_FRAMES = 3;
/**
 * Keyframe interval when nobody asks for one, seconds. Receivers ask (PLI/FIR) when they
 * need one; a keyframe at the stream's rate is ~12 dB worse than the frames around it (a
 * visible pulse), so unasked ones are rare: only a receiver that never asks is helped.
 */
const KEYFRAME_INTERVAL_S = 60;
/** libvpx's static threshold: blocks whose change from the last frame sums to less are not coded. */
const VP8_STATIC_THRESHOLD = 100;
/** Keyframe requests closer together than this are answered by the one already coming. */
const MIN_KEYFRAME_GAP_MS = 500;

/**
 * A long-lived ffmpeg process per session that turns raw I420 frames into RTP packets
 * (VP8 or H.264, packetized by ffmpeg, sent to a loopback UDP socket of this process).
 * One frame in gives one frame out, in order, a few ms later; packets are handed on as they
 * arrive, tagged with the frame's presentation time.
 *
 * Frames come either drawn (`encode`: written into the encoder's stdin here) or deferred to
 * a painter that draws them straight into the encoder's input on its own thread
 * (`encodeDeferred`); a change from one to the other, or to another painter, starts a
 * fresh encoder reading from the new place.
 *
 * A keyframe on request (PLI/FIR) starts a fresh encoder process: ffmpeg cannot be told to
 * make one mid-stream, and a new encoder begins with one. Requests are rate-limited. A new
 * rate starts a fresh encoder the same way.
 */
export class RtpVideoEncoder {
  /** The running encoder; undefined while one starts (frames meanwhile are skipped). */
  private process: LaunchedProcess | undefined;
  /** Where the running encoder's frames are drawn: undefined for its stdin (frames drawn by the caller). */
  private source: EncoderInputSource | undefined;
  /** The running encoder's input when `source` feeds it. */
  private input: EncoderInput | undefined;
  private socket: Socket | undefined;
  /** Frames written and not yet out: their pts and when they were written (performance.now()). */
  private pending: { ptsMs: number; writtenAt: number }[] = [];
  /** Encoders started so far; none until the first frame, which starts one reading from where it comes from. */
  private generation = 0;
  private currentTimestamp: number | undefined;
  private currentPts = 0;
  private lastKeyframeAt = -Infinity;
  private stopped = false;
  private counts = { framesIn: 0, framesSkipped: 0, restarts: 0, rateChanges: 0, bytesOut: 0 };
  private rateKbps: number;

  /**
   * @param onFrameOut called as each frame's first packet comes out, with the ms since the
   *   frame was written (the encoder's delay).
   */
  constructor(
    private readonly options: RtpVideoEncoderOptions,
    private readonly onPacket: (packet: EncodedRtpPacket) => void,
    private readonly onFailure: (message: string) => void = () => undefined,
    private readonly onFrameOut: (delayMs: number) => void = () => undefined,
  ) {
    this.rateKbps = options.kbps;
  }

  /** Frames taken, skipped because the encoder was behind, restarts for keyframes on request, restarts at a new rate, RTP bytes out, the rate now (kbit/s). */
  get stats(): { framesIn: number; framesSkipped: number; restarts: number; rateChanges: number; bytesOut: number; kbps: number } {
    return { ...this.counts, kbps: this.rateKbps };
  }

  /** Gets ready to encode (once a peer can receive); the first frame then starts the encoder, and is a keyframe. */
  async start(): Promise<void> {
    if (this.stopped || this.socket) return;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    if (this.stopped) {
      socket.close();
      return;
    }
    this.socket = socket;
    socket.on('message', (message) => this.received(message));
  }

  /** Encodes one frame (releasing it once written); skipped while the encoder is behind or not running. */
  encode(frame: VideoFrame, ptsMs: number): void {
    if (this.source || !this.generation) this.switchSource(undefined);
    const stdin = this.process?.stdio[0];
    if (!stdin || !this.takes() || !stdin.writable) {
      frame.release?.();
      this.counts.framesSkipped++;
      return;
    }
    this.written(ptsMs);
    stdin.write(frame.data, () => frame.release?.());
  }

  /**
   * Encodes one frame that `painter` draws from `request` straight into the encoder's input;
   * skipped while the encoder is behind or not running (or starts reading from `painter`).
   */
  encodeDeferred(painter: EncoderInputSource, request: PaintRequest, ptsMs: number): void {
    if (this.source !== painter || !this.generation) this.switchSource(painter);
    const input = this.input;
    if (!input || !this.takes()) {
      this.counts.framesSkipped++;
      return;
    }
    this.written(ptsMs);
    const generation = this.generation;
    input.write(request).catch((e: unknown) => {
      if (generation === this.generation && !this.stopped) this.onFailure(`a video frame could not be drawn: ${(e as Error).message}`);
    });
  }

  private takes(): boolean {
    return this.process !== undefined && this.pending.length < MAX_PENDING_FRAMES;
  }

  private written(ptsMs: number): void {
    this.counts.framesIn++;
    this.pending.push({ ptsMs, writtenAt: performance.now() });
  }

  /** Frames now come from `source` (undefined: drawn by the caller): a fresh encoder reads them. */
  private switchSource(source: EncoderInputSource | undefined): void {
    this.source = source;
    if (this.stopped || !this.socket) return;
    this.killEncoder();
    this.spawnEncoder();
  }

  /** Asks for a keyframe (the receiver lost pictures): a fresh encoder starts, at most every 500 ms. */
  requestKeyframe(): void {
    if (this.stopped || !this.generation) return;
    const now = performance.now();
    if (now - this.lastKeyframeAt < MIN_KEYFRAME_GAP_MS) return;
    this.lastKeyframeAt = now;
    this.counts.restarts++;
    this.killEncoder();
    this.spawnEncoder();
  }

  /**
   * Encodes at `kbps` from the next frame: ffmpeg takes no new rate mid-stream, so a fresh
   * encoder starts at it (its first frame a keyframe). The caller limits how often.
   */
  setBitrate(kbps: number): void {
    if (kbps === this.rateKbps) return;
    this.rateKbps = kbps;
    if (this.stopped || !this.generation) return;
    this.counts.rateChanges++;
    this.killEncoder();
    this.spawnEncoder();
  }

  stop(): void {
    this.stopped = true;
    this.killEncoder();
    this.socket?.close();
    this.socket = undefined;
  }

  private spawnEncoder(): void {
    const generation = ++this.generation;
    this.pending = [];
    this.currentTimestamp = undefined;
    this.lastKeyframeAt = performance.now();
    this.launchEncoder(generation).catch((e: unknown) => {
      if (generation === this.generation && !this.stopped) this.onFailure(`the video encoder could not start: ${(e as Error).message}`);
    });
  }

  private async launchEncoder(generation: number): Promise<void> {
    const { width, height, fps } = this.options;
    const kbps = this.rateKbps;
    const current = () => generation === this.generation && !this.stopped;
    const input = await this.source?.openEncoderInput();
    if (!current()) {
      input?.close();
      return;
    }
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-r', String(fps), '-i', input?.url ?? 'pipe:0',
      ...codecArgs(this.options), '-b:v', `${kbps}k`, '-maxrate', `${Math.round(kbps * 1.2)}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
      '-g', String(Math.round(fps * KEYFRAME_INTERVAL_S)), '-threads', '1',
      '-f', 'rtp', '-payload_type', '96', '-pkt_size', '1200', '-sdp_file', '/dev/null',
      `rtp://127.0.0.1:${(this.socket!.address()).port}`,
    ];
    let child: LaunchedProcess;
    try {
      child = await processLauncher().launch(this.options.ffmpeg, args, { stdio: [input ? 'ignore' : 'in', 'ignore', 'ignore'] });
    } catch (e) {
      input?.close();
      throw e;
    }
    if (!current()) {
      child.kill('SIGKILL');
      input?.close();
      return;
    }
    this.process = child;
    this.input = input;
    this.lastKeyframeAt = performance.now();
    child.stdio[0]?.on('error', () => undefined);
    void child.closed.then(({ code, signal }) => {
      if (!current() || signal) return;
      this.process = undefined;
      // An ffmpeg built without the unix protocol cannot read a painter thread's input; one
      // that ends cleanly while current saw its input end, which only the thread side does.
      const hint = !input ? ''
        : code ? `; it reads its frames from ${input.url}, which needs an ffmpeg with the unix protocol (else set realtime.paintThreads to 0)`
          : '; its input ended: the painter thread drawing into it stopped or closed it';
      this.onFailure(`the video encoder stopped (ffmpeg exit code ${code}${hint})`);
    });
  }

  private killEncoder(): void {
    const child = this.process;
    this.process = undefined;
    this.input?.close();
    this.input = undefined;
    if (!child) return;
    child.stdio[0]?.destroy();
    child.kill('SIGKILL');
  }

  /** An RTP packet from ffmpeg: a new RTP timestamp starts the next written frame. */
  private received(packet: Buffer): void {
    if (packet.length < 12 || this.stopped || !this.process) return;
    const timestamp = packet.readUInt32BE(4);
    if (timestamp !== this.currentTimestamp) {
      const frame = this.pending.shift();
      if (frame === undefined) return;
      this.currentTimestamp = timestamp;
      this.currentPts = frame.ptsMs;
      this.onFrameOut(performance.now() - frame.writtenAt);
    }
    this.counts.bytesOut += packet.length;
    this.onPacket({ packet, ptsMs: this.currentPts, last: (packet[1]! & 0x80) !== 0 });
  }
}

function codecArgs(options: RtpVideoEncoderOptions): string[] {
  if (options.codec === 'VP8') {
    // A static threshold skips blocks that did not change: an avatar's frames are mostly the
    // previous frame, and at 100 the drawn avatar encodes in ~35 % less CPU at the same PSNR
    // (real footage: the same CPU and PSNR).
    return ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '16', '-static-thresh', String(VP8_STATIC_THRESHOLD), '-lag-in-frames', '0', '-error-resilient', '1', '-auto-alt-ref', '0'];
  }
  // Baseline profile (42e0xx): what every WebRTC H.264 decoder takes; parameter sets on
  // every keyframe so a receiver can start at any of them.
  return ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-x264-params', 'repeat-headers=1:aud=0'];
}
