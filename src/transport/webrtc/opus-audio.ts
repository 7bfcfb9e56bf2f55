import OpusScript from 'opusscript';
import { resample } from '../../audio/resample.js';

/** Opus in WebRTC runs at 48 kHz; one packet carries 20 ms. */
export const OPUS_RATE = 48000;
const FRAME_MS = 20;
const FRAME_SAMPLES = (OPUS_RATE * FRAME_MS) / 1000;
/** Opus CTLs (opus_defines.h). */
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
/** Speech bitrate, bit/s: clear voice at a small fraction of the video's. */
const OPUS_BITRATE = 32000;
/** Encoder effort 0..10: 5 sounds like 10 for speech at about half the CPU. */
const OPUS_COMPLEXITY = 5;
/** Silent frames encoded before the last one is reused (the encoder has settled on silence by then). */
const SILENCE_SETTLE_FRAMES = 5;
/** A pacer this far behind its clock jumps ahead rather than sending a burst of old audio, ms. */
const MAX_CATCH_UP_MS = 100;

/**
 * The audio of a session as a steady Opus stream: speech PCM arrives ahead of time with
 * presentation times on the session clock; it is resampled to 48 kHz and laid onto 20 ms
 * frames, and each frame is encoded and handed on when it is due, so RTP timestamps and
 * send times agree (the receiver's lip sync reads them against the video's). Frames
 * without speech carry silence. `dropFrom` removes speech not yet sent (interrupt).
 */
export class OpusAudioPacer {
  private readonly frames = new Map<number, Int16Array>();
  private readonly encoder = new OpusScript(OPUS_RATE, 1, OpusScript.Application.VOIP);
  private origin = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private silentRun = 0;
  private silencePacket: Buffer | undefined;
  private readonly silence = Buffer.alloc(FRAME_SAMPLES * 2);
  private stopped = false;
  private counts = { packets: 0, speechPackets: 0, bytes: 0 };

  /** `send(payload, timestamp)`: one Opus packet with its RTP timestamp (48 kHz units from the session origin). */
  constructor(private readonly send: (payload: Buffer, timestamp: number) => void) {
    this.encoder.encoderCTL(OPUS_SET_BITRATE, OPUS_BITRATE);
    this.encoder.encoderCTL(OPUS_SET_COMPLEXITY, OPUS_COMPLEXITY);
  }

  /** Packets sent, packets carrying speech, payload bytes. */
  get stats(): { packets: number; speechPackets: number; bytes: number } {
    return { ...this.counts };
  }

  /** Starts sending: frame k is due at `originMs + 20 k` (performance.now() time). */
  start(originMs: number): void {
    if (this.stopped || this.timer) return;
    this.origin = originMs;
    this.next = Math.max(0, Math.floor((performance.now() - originMs) / FRAME_MS));
    this.tick();
  }

  /** Places speech at its presentation time; parts whose time has passed are dropped. */
  push(pcm: Int16Array, sampleRate: number, ptsMs: number): void {
    if (this.stopped) return;
    const samples = resample(pcm, sampleRate, OPUS_RATE);
    const first = Math.round(ptsMs * (OPUS_RATE / 1000));
    const firstSendable = this.next * FRAME_SAMPLES;
    for (let i = Math.max(0, firstSendable - first); i < samples.length; i++) {
      const at = first + i;
      const index = Math.floor(at / FRAME_SAMPLES);
      let frame = this.frames.get(index);
      if (!frame) this.frames.set(index, (frame = new Int16Array(FRAME_SAMPLES)));
      frame[at - index * FRAME_SAMPLES] = samples[i]!;
    }
  }

  /** Forgets speech at and after `ptsMs` that has not been sent. */
  dropFrom(ptsMs: number): void {
    const at = Math.round(ptsMs * (OPUS_RATE / 1000));
    const cut = Math.floor(at / FRAME_SAMPLES);
    for (const index of [...this.frames.keys()]) {
      if (index > cut) this.frames.delete(index);
      else if (index === cut) this.frames.get(index)!.fill(0, at - index * FRAME_SAMPLES);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.frames.clear();
    this.encoder.delete();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = performance.now();
    const due = Math.floor((now - this.origin) / FRAME_MS);
    if (due - this.next > MAX_CATCH_UP_MS / FRAME_MS) {
      for (let k = this.next; k < due; k++) this.frames.delete(k);
      this.next = due;
    }
    while (this.next <= due) this.sendFrame(this.next++);
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.origin + this.next * FRAME_MS - performance.now()));
  }

  private sendFrame(index: number): void {
    const pcm = this.frames.get(index);
    this.frames.delete(index);
    let payload: Buffer;
    if (pcm) {
      this.silentRun = 0;
      this.silencePacket = undefined;
      payload = Buffer.from(this.encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), FRAME_SAMPLES));
      this.counts.speechPackets++;
    } else if (this.silencePacket) {
      payload = this.silencePacket;
    } else {
      payload = Buffer.from(this.encoder.encode(this.silence, FRAME_SAMPLES));
      if (++this.silentRun >= SILENCE_SETTLE_FRAMES) this.silencePacket = payload;
    }
    this.counts.packets++;
    this.counts.bytes += payload.length;
    this.send(payload, index * FRAME_SAMPLES);
  }
}
