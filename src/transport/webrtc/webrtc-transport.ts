import { RtpHeader, RtpPacket, type MediaStreamTrack, type RTCDataChannel } from 'werift';
import type { ServerEvent } from '../../client/protocol.js';
import type { RealtimePicture, RealtimeTransport } from '../../pipeline/realtime/transport.js';
import { OpusAudioPacer } from './opus-audio.js';
import { RtpVideoEncoder, type EncodedRtpPacket, type RtpVideoEncoderOptions } from './rtp-video-encoder.js';
import { VideoBitrateLadder, type BitrateChange } from './video-bitrate-ladder.js';
import { VideoLossMeter } from './video-loss-meter.js';

/** Events queued for a data channel that is not open yet, at most. */
const MAX_EARLY_EVENTS = 64;

/**
 * A realtime session as WebRTC media: raw I420 frames, handed over as soon as the session
 * has drawn them (ahead of their slot), are encoded by a per-session video encoder into RTP
 * (VP8 or H.264), and the packets are sent when their frame is due, or as they come out
 * when the encoder took longer than the lead;
 * speech PCM, which arrives ahead of time, is paced out as 20 ms Opus packets when due.
 * Both RTP clocks count from the session origin (video 90 kHz, audio 48 kHz) and packets
 * leave at their presentation time, so the sender reports (RTCP SR) map both onto the same
 * wall clock and the receiver keeps lips and voice together. Events go out as JSON text on
 * the data channel; an interrupt (`speech.ended`, `interrupted`) also drops queued audio.
 * The video rate follows the receiver's reports (see VideoBitrateLadder); each change is
 * told to the client as a `video.bitrate` event.
 */
export class WebRtcTransport implements RealtimeTransport {
  readonly pictureFormat = 'i420';
  /** Frames come ahead of their slot: the encoder works in that lead, and packets wait here until due. */
  readonly pacesFrames = true;
  /** Encoded packets that came out before their frame is due, in order. */
  private held: EncodedRtpPacket[] = [];
  private heldTimer: NodeJS.Timeout | undefined;
  private readonly encoder: RtpVideoEncoder;
  private readonly ladder: VideoBitrateLadder;
  private readonly loss = new VideoLossMeter();
  private readonly audio: OpusAudioPacer;
  private channel: RTCDataChannel | undefined;
  private readonly early: string[] = [];
  private videoSequence = 0;
  private audioSequence = 0;
  private mediaFlowing = false;
  private origin: number | undefined;
  private closed = false;

  constructor(
    private readonly videoTrack: MediaStreamTrack,
    private readonly audioTrack: MediaStreamTrack | undefined,
    encoderOptions: RtpVideoEncoderOptions & { readonly minKbps: number },
    onFailure: (message: string) => void,
    private readonly onRateChange: (change: BitrateChange) => void = () => undefined,
    onFrameEncoded: (delayMs: number) => void = () => undefined,
  ) {
    this.ladder = new VideoBitrateLadder({ maxKbps: encoderOptions.kbps, minKbps: encoderOptions.minKbps });
    this.encoder = new RtpVideoEncoder(encoderOptions, (encoded) => this.videoOut(encoded), onFailure, onFrameEncoded);
    this.audio = new OpusAudioPacer((payload, timestamp) => this.audioTrack?.writeRtp(new RtpPacket(new RtpHeader({ payloadType: OPUS_PAYLOAD_TYPE, sequenceNumber: this.audioSequence++ & 0xffff, timestamp: timestamp >>> 0 }), payload)));
  }

  /** Video encoder and audio figures (frames in, skipped, keyframe restarts, rate changes, bytes, the video rate now). */
  get stats(): { video: RtpVideoEncoder['stats']; audio: OpusAudioPacer['stats'] } {
    return { video: this.encoder.stats, audio: this.audio.stats };
  }

  /**
   * What waits to go to the client: the control channel's backlog. Media are not counted:
   * the encoder skips frames itself while it is behind, and RTP is sent when its frame is due.
   */
  get bufferedBytes(): number {
    return this.channel?.bufferedAmount ?? 0;
  }

  /** The control channel opened: queued events go out, and go out directly from now on. */
  attachChannel(channel: RTCDataChannel): void {
    this.channel = channel;
    const flush = () => {
      for (const text of this.early.splice(0)) channel.send(text);
    };
    if (channel.readyState === 'open') flush();
    else channel.stateChanged.subscribe((state) => state === 'open' && flush());
  }

  /** The peer is connected: media starts (the encoder's first frame is a keyframe the peer receives). */
  mediaReady(): void {
    if (this.closed || this.mediaFlowing) return;
    this.mediaFlowing = true;
    void this.encoder.start();
    if (this.origin !== undefined) this.audio.start(this.origin);
  }

  /** A receiver report on the video: share of packets lost (0 to 1) since its last one. */
  receiverReport(fractionLost: number): void {
    this.applyRate(this.ladder.report(this.loss.report(fractionLost), performance.now()));
  }

  /** The receiver asked for video packets again (NACK). */
  receiverNack(sequenceNumbers: readonly number[]): void {
    this.loss.nack(sequenceNumbers);
  }

  /** The receiver's estimate of the path (REMB), kbit/s. */
  receiverEstimate(kbps: number): void {
    this.applyRate(this.ladder.receiverEstimate(kbps, performance.now()));
  }

  private applyRate(change: BitrateChange | undefined): void {
    if (!change || this.closed) return;
    this.encoder.setBitrate(change.kbps);
    this.onRateChange(change);
    this.sendEvent({ type: 'video.bitrate', kbps: change.kbps, reason: change.reason });
  }

  /** The receiver lost pictures (PLI/FIR): a keyframe follows. */
  requestKeyframe(): void {
    this.encoder.requestKeyframe();
  }

  startClock(originMs: number): void {
    this.origin = originMs;
    if (this.mediaFlowing) this.audio.start(originMs);
  }

  sendEvent(event: ServerEvent): void {
    if (this.closed) return;
    if (event.type === 'speech.ended' && event.reason === 'interrupted') this.audio.dropFrom(event.ptsMs);
    const text = JSON.stringify(event);
    if (this.channel?.readyState === 'open') this.channel.send(text);
    else if (this.early.length < MAX_EARLY_EVENTS) this.early.push(text);
  }

  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void {
    if (!this.closed) this.audio.push(pcm, sampleRate, ptsMs);
  }

  sendFrame(picture: RealtimePicture, _slot: number, ptsMs: number): void {
    if ('deferred' in picture) {
      if (!this.closed && this.mediaFlowing) this.encoder.encodeDeferred(picture.deferred.painter, picture.deferred.request, ptsMs);
      return;
    }
    if (!('i420' in picture)) throw new Error('the WebRTC transport encodes raw I420 frames');
    if (this.closed || !this.mediaFlowing) {
      picture.i420.release?.();
      return;
    }
    this.encoder.encode(picture.i420, ptsMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.encoder.stop();
    this.audio.stop();
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.held = [];
  }

  /** A packet from the encoder: sent now if its frame is due, else held until it is (after any held before it). */
  private videoOut(encoded: EncodedRtpPacket): void {
    if (this.held.length === 0 && this.dueIn(encoded) < 1) {
      this.sendVideo(encoded);
      return;
    }
    this.held.push(encoded);
    this.heldTimer ??= setTimeout(() => this.releaseHeld(), Math.max(0, this.dueIn(this.held[0]!)));
  }

  private releaseHeld(): void {
    this.heldTimer = undefined;
    let sent = 0;
    while (sent < this.held.length && this.dueIn(this.held[sent]!) < 1) this.sendVideo(this.held[sent++]!);
    this.held.splice(0, sent);
    if (this.held.length && !this.closed) this.heldTimer = setTimeout(() => this.releaseHeld(), Math.max(0, this.dueIn(this.held[0]!)));
  }

  /** Ms until a packet's frame is due (its slot on the session clock). */
  private dueIn(encoded: EncodedRtpPacket): number {
    return this.origin === undefined ? 0 : this.origin + encoded.ptsMs - performance.now();
  }

  private sendVideo(encoded: EncodedRtpPacket): void {
    if (this.closed) return;
    const payload = rtpPayload(encoded.packet);
    if (!payload) return;
    const header = new RtpHeader({ payloadType: encoded.packet[1]! & 0x7f, marker: encoded.last, sequenceNumber: this.videoSequence, timestamp: Math.round(encoded.ptsMs * 90) >>> 0 });
    this.videoSequence = (this.videoSequence + 1) & 0xffff;
    this.videoTrack.writeRtp(new RtpPacket(header, payload));
    this.loss.packetSent();
  }
}

/** Dynamic payload type written into audio packets; the sender replaces it with the negotiated one. */
const OPUS_PAYLOAD_TYPE = 111;

/**
 * The payload of an RTP packet (after its CSRCs and header extension, without padding), or
 * undefined when the packet is malformed. Packets are handed to the sender as parsed
 * objects: werift's own parser reads each header bit through strings.
 */
export function rtpPayload(packet: Buffer): Buffer | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  const padding = packet[0]! & 0x20 ? packet[packet.length - 1]! : 0;
  if (offset + padding > packet.length) return undefined;
  return packet.subarray(offset, packet.length - padding);
}
