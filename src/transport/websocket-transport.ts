import { encodeMediaHeader, encodePatchHeader, FLAG_PATCH, FLAG_SPEAKING, MEDIA_KIND, type ServerEvent } from '../client/protocol.js';
import type { RealtimePicture, RealtimeTransport } from '../pipeline/realtime/transport.js';

/** The part of a WebSocket the transport uses. */
export interface WebSocketLike {
  send(data: Buffer | string): void;
  readonly bufferedAmount: number;
}

/**
 * The realtime protocol over a WebSocket (docs/realtime-protocol.md): events as JSON text
 * frames; audio and JPEG frames as binary messages with a 16-byte media header.
 */
export class WebSocketTransport implements RealtimeTransport {
  constructor(private readonly socket: WebSocketLike) {}

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  sendEvent(event: ServerEvent): void {
    this.socket.send(JSON.stringify(event));
  }

  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void {
    const header = encodeMediaHeader(MEDIA_KIND.audio, 0, sampleRate, ptsMs);
    this.socket.send(Buffer.concat([header, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)]));
  }

  readonly pictureFormat = 'jpeg';

  sendFrame(picture: RealtimePicture, slot: number, ptsMs: number, speaking: boolean): void {
    if (!('jpeg' in picture)) throw new Error('the WebSocket transport sends JPEG pictures only');
    const flags = (speaking ? FLAG_SPEAKING : 0) | (picture.patch ? FLAG_PATCH : 0);
    const header = encodeMediaHeader(MEDIA_KIND.video, flags, slot, ptsMs);
    this.socket.send(picture.patch
      ? Buffer.concat([header, encodePatchHeader(picture.patch.x, picture.patch.y, picture.jpeg.length), picture.jpeg, picture.patch.jpeg])
      : Buffer.concat([header, picture.jpeg]));
  }
}
