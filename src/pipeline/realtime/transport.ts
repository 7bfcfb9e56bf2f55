import type { ServerEvent } from '../../client/protocol.js';

/** A realtime frame as a session sends it: an encoded picture, or a cached base picture plus an encoded patch. */
export interface RealtimePicture {
  readonly jpeg: Buffer;
  readonly patch?: { readonly x: number; readonly y: number; readonly jpeg: Buffer };
}

/**
 * Where a realtime session's output goes: events, audio and frames, each with its
 * presentation time on the session clock (slot n at n * 1000 / fps ms). The WebSocket
 * transport implements it; a session never sees the wire format.
 */
export interface RealtimeTransport {
  /** Bytes queued but not yet sent: frames are skipped while the client cannot keep up. */
  readonly bufferedBytes: number;
  sendEvent(event: ServerEvent): void;
  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void;
  sendFrame(picture: RealtimePicture, slot: number, ptsMs: number, speaking: boolean): void;
}
