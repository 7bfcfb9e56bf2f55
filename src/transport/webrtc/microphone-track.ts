import OpusScript from 'opusscript';

/** Rate of the PCM a microphone track is decoded to. */
export const MICROPHONE_RATE = 48000;

/**
 * The client's microphone as a WebRTC audio track (Opus, echo cancellation done by the
 * browser): while on, each packet is decoded to mono 16-bit PCM at 48 kHz and delivered
 * as streamed speech. Packets arriving while off are dropped undecoded.
 */
export class MicrophoneTrack {
  private decoder: OpusScript | undefined;

  constructor(private readonly deliver: (pcm: Buffer) => void) {}

  get on(): boolean {
    return this.decoder !== undefined;
  }

  /** Starts decoding (a fresh decoder: the previous utterance's state is not carried over). */
  start(): void {
    this.stop();
    this.decoder = new OpusScript(MICROPHONE_RATE, 1, OpusScript.Application.VOIP);
  }

  stop(): void {
    this.decoder?.delete();
    this.decoder = undefined;
  }

  /** One RTP payload of the microphone track. */
  packet(payload: Buffer): void {
    if (!this.decoder || payload.length === 0) return;
    let pcm: Buffer;
    try {
      pcm = this.decoder.decode(payload);
    } catch {
      return; // A damaged packet is a moment of silence, not the end of the utterance.
    }
    this.deliver(Buffer.from(pcm));
  }
}
