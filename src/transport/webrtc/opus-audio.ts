import { resampledLength, resampleRange } from '../../audio/resample.js';
import { openOpusEncoder, type OpusFrameEncoder } from './opus-encoders.js';
import { OPUS_FRAME_MS as FRAME_MS, OPUS_FRAME_SAMPLES as FRAME_SAMPLES, OPUS_RATE } from './opus-settings.js';


/** Silent frames encoded before the last one is reused (the encoder has settled on silence by then). */
const SILENCE_SETTLE_FRAMES = 5;
/** A pacer this far behind its clock jumps ahead rather than sending a burst of old audio, ms. */
const MAX_CATCH_UP_MS = 100;
/** Frames of one session on the Opus thread at once; beyond it (the thread is behind) a frame is skipped. */
const MAX_IN_FLIGHT = 5;

/**
 * Speech placed on the session clock at its own rate: samples `0 .. length - 1` of `pcm`
 * play from 48 kHz sample `firstOut`; nothing of it plays at or after `endOut`.
 */
interface PlacedSpeech {
  pcm: Int16Array;
  length: number;
  readonly rate: number;
  readonly firstOut: number;
  endOut: number;
  /** Cut by an interrupt: later speech starts a piece of its own. */
  cut: boolean;
}

/**
 * The audio of a session as a steady Opus stream: speech PCM arrives ahead of time with
 * presentation times on the session clock, in pieces; pieces that follow one another are
 * joined, so the resampling to 48 kHz has no seams. Each 20 ms frame is resampled, encoded
 * and handed on when it is due (resampling a whole utterance at once would hold the event
 * loop for tens of ms, and every session's frames with it), so RTP timestamps and send
 * times agree (the receiver's lip sync reads them against the video's). Frames without
 * speech carry silence. `dropFrom` removes speech not yet sent (interrupt).
 */
export class OpusAudioPacer {
  private speech: PlacedSpeech[] = [];
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  /** Opened when the pacer starts: a pacer never started holds no stream on the Opus thread. */
  private encoder: OpusFrameEncoder | undefined;
  /** Packets go out in frame order: each send waits for the one before. */
  private sending: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** Counts frames with speech: a silent packet encoded before the latest of them is not cached. */
  private speechSeen = 0;
  private origin = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private silentRun = 0;
  private silencePacket: Buffer | undefined;
  private readonly silence = new Int16Array(FRAME_SAMPLES);
  private stopped = false;
  private counts = { packets: 0, speechPackets: 0, bytes: 0, skipped: 0 };

  /** `send(payload, timestamp)`: one Opus packet with its RTP timestamp (48 kHz units from the session origin). */
  constructor(private readonly send: (payload: Buffer, timestamp: number) => void) {}

  /** Packets sent, packets carrying speech, payload bytes, frames skipped while the Opus thread was behind. */
  get stats(): { packets: number; speechPackets: number; bytes: number; skipped: number } {
    return { ...this.counts };
  }

  /** Starts sending: frame k is due at `originMs + 20 k` (performance.now() time). */
  start(originMs: number): void {
    if (this.stopped || this.timer) return;
    this.encoder ??= openOpusEncoder();
    this.origin = originMs;
    this.next = Math.max(0, Math.floor((performance.now() - originMs) / FRAME_MS));
    this.tick();
  }

  /** Places speech at its presentation time; parts whose time has passed are never sent. */
  push(pcm: Int16Array, sampleRate: number, ptsMs: number): void {
    if (this.stopped || pcm.length === 0) return;
    const firstOut = Math.round(ptsMs * (OPUS_RATE / 1000));
    const last = this.speech[this.speech.length - 1];
    // A piece that starts where the last one ends (within a sample) continues it.
    if (last && !last.cut && last.rate === sampleRate && Math.abs(firstOut - last.endOut) <= 1) {
      if (last.length + pcm.length > last.pcm.length) {
        const grown = new Int16Array(Math.max(2 * last.pcm.length, last.length + pcm.length));
        grown.set(last.pcm.subarray(0, last.length));
        last.pcm = grown;
      }
      last.pcm.set(pcm, last.length);
      last.length += pcm.length;
      last.endOut = last.firstOut + resampledLength(last.length, sampleRate, OPUS_RATE);
      return;
    }
    const copy = new Int16Array(pcm.length);
    copy.set(pcm);
    this.speech.push({ pcm: copy, length: pcm.length, rate: sampleRate, firstOut, endOut: firstOut + resampledLength(pcm.length, sampleRate, OPUS_RATE), cut: false });
  }

  /** Forgets speech at and after `ptsMs` that has not been sent. */
  dropFrom(ptsMs: number): void {
    const at = Math.round(ptsMs * (OPUS_RATE / 1000));
    this.speech = this.speech.filter((s) => s.firstOut < at);
    for (const s of this.speech) {
      if (s.endOut > at) s.endOut = at;
      s.cut = true;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.speech = [];
    this.encoder?.close();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = performance.now();
    const due = Math.floor((now - this.origin) / FRAME_MS);
    if (due - this.next > MAX_CATCH_UP_MS / FRAME_MS) {
      this.next = due;
    }
    while (this.next <= due) this.sendFrame(this.next++);
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.origin + this.next * FRAME_MS - performance.now()));
  }

  /**
   * Encodes frame `index` (on the Opus thread) and sends it after the frames before it;
   * skipped while the thread is `MAX_IN_FLIGHT` frames behind.
   */
  private sendFrame(index: number): void {
    const encoder = this.encoder;
    if (!encoder) return;
    const pcm = this.frameSamples(index);
    if (pcm) {
      this.silentRun = 0;
      this.silencePacket = undefined;
      this.speechSeen++;
    }
    let payload: Buffer | Promise<Buffer>;
    if (!pcm && this.silencePacket) {
      payload = this.silencePacket;
    } else {
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.counts.skipped++;
        return;
      }
      this.inFlight++;
      const encoded = encoder.encode(pcm ?? this.silence).finally(() => this.inFlight--);
      if (pcm) {
        this.counts.speechPackets++;
        payload = encoded;
      } else {
        const settled = ++this.silentRun >= SILENCE_SETTLE_FRAMES;
        const seen = this.speechSeen;
        // Cached only if no speech came after it was asked for (it may come back late).
        payload = encoded.then((packet) => {
          if (settled && seen === this.speechSeen) this.silencePacket = packet;
          return packet;
        });
      }
    }
    this.counts.packets++;
    // Handled now, awaited in turn: a frame that fails while earlier ones wait is not unhandled.
    if (payload instanceof Promise) payload.catch(() => undefined);
    const timestamp = index * FRAME_SAMPLES;
    this.sending = this.sending.then(async () => {
      let packet: Buffer;
      try {
        packet = await payload;
      } catch {
        return; // closed, or the thread was lost: the frame is skipped, the stream goes on
      }
      if (this.stopped) return;
      this.counts.bytes += packet.length;
      this.send(packet, timestamp);
    });
  }

  /**
   * The 48 kHz samples of frame `index` (what is encoded when it is due), or undefined when
   * no speech falls in it; speech that ends by the frame's end is let go.
   */
  frameSamples(index: number): Int16Array | undefined {
    const from = index * FRAME_SAMPLES;
    const to = from + FRAME_SAMPLES;
    let filled = false;
    for (const s of this.speech) {
      const lo = Math.max(from, s.firstOut);
      const hi = Math.min(to, s.endOut);
      if (lo >= hi) continue;
      if (!filled) this.frame.fill(0);
      filled = true;
      resampleRange(s.pcm.subarray(0, s.length), s.rate, OPUS_RATE, lo - s.firstOut, hi - lo, this.frame, lo - from);
    }
    if (this.speech.some((s) => s.endOut <= to)) this.speech = this.speech.filter((s) => s.endOut > to);
    return filled ? this.frame : undefined;
  }
}
