import type { ServerEvent } from '../../client/protocol.js';
import type { VideoFrame } from '../../core/frame.js';
import type { EncoderInputSource, PaintRequest } from './frame-painter.js';

/** A frame as JPEG: an encoded picture, or a cached base picture plus an encoded patch. */
export interface JpegPicture {
  readonly jpeg: Buffer;
  readonly patch?: { readonly x: number; readonly y: number; readonly jpeg: Buffer };
}

/**
 * A frame as the renderer drew it (I420), for transports that run a video encoder. The
 * transport calls `frame.release()` once it no longer reads the pixels.
 */
export interface RawPicture {
  readonly i420: VideoFrame;
}

/**
 * A raw frame not drawn yet, from a painter that draws straight into a video encoder's input
 * (`openEncoderInput`): the transport has it drawn there when the frame is due.
 */
export interface DeferredRawPicture {
  readonly deferred: { readonly painter: EncoderInputSource; readonly request: PaintRequest };
}

/** A realtime frame in the form its transport asked for (`pictureFormat`). */
export type RealtimePicture = JpegPicture | RawPicture | DeferredRawPicture;

/**
 * How a transport wants its frames: JPEG (cached idle pictures, mouth patches) or raw I420
 * (drawn, or deferred where the painter can draw into the transport's encoder).
 */
export type PictureFormat = 'jpeg' | 'i420';

/**
 * Where a realtime session's output goes: events, audio and frames, each with its
 * presentation time on the session clock (slot n at n * 1000 / fps ms). The WebSocket
 * transport implements it; a session never sees the wire format.
 */
export interface RealtimeTransport {
  /** The form of the pictures passed to `sendFrame` (default `jpeg`). */
  readonly pictureFormat?: PictureFormat;
  /**
   * True when the transport sends each frame at its due time itself: frames are handed over
   * as soon as they are produced, ahead of their slot (a video encoder then works in that
   * lead), rather than when due.
   */
  readonly pacesFrames?: boolean;
  /** The session clock has started: slot 0 is due at `originMs` (performance.now() time). */
  startClock?(originMs: number): void;
  /** Bytes queued but not yet sent: frames are skipped while the client cannot keep up. */
  readonly bufferedBytes: number;
  sendEvent(event: ServerEvent): void;
  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void;
  sendFrame(picture: RealtimePicture, slot: number, ptsMs: number, speaking: boolean): void;
}
