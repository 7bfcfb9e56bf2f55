/**
 * The realtime session protocol (see docs/realtime-protocol.md), shared by the server and
 * the clients. No Node or DOM dependencies: it compiles for both.
 */

/** Kinds of binary server messages. */
export const MEDIA_KIND = { video: 1, audio: 2 } as const;

/** Bytes before the payload of a binary server message. */
export const MEDIA_HEADER_BYTES = 16;

/** Flag bit of a video frame that belongs to speech (not idle). */
export const FLAG_SPEAKING = 1;
/** Flag bit of a video frame sent as a base picture plus a JPEG patch drawn over it at (x, y). */
export const FLAG_PATCH = 2;
/** Bytes after the header of a patched frame: u16 x, u16 y, u32 length of the base JPEG. */
export const PATCH_HEADER_BYTES = 8;

/** A rectangle drawn over the frame's picture (the moving mouth over a cached idle picture). */
export interface FramePatch {
  readonly x: number;
  readonly y: number;
  readonly jpeg: Uint8Array;
}

/** A decoded binary server message: a JPEG frame or a PCM chunk, with its presentation time. */
export type MediaMessage =
  | { kind: 'video'; index: number; ptsMs: number; speaking: boolean; jpeg: Uint8Array; patch?: FramePatch }
  | { kind: 'audio'; sampleRate: number; ptsMs: number; pcm: Int16Array };

/**
 * Header layout (little endian): u8 kind, u8 flags, u16 reserved, u32 frame index (video)
 * or sample rate (audio), f64 presentation time in ms on the session clock.
 */
export function encodeMediaHeader(kind: number, flags: number, indexOrRate: number, ptsMs: number): Uint8Array {
  const header = new Uint8Array(MEDIA_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint8(0, kind);
  view.setUint8(1, flags);
  view.setUint16(2, 0, true);
  view.setUint32(4, indexOrRate >>> 0, true);
  view.setFloat64(8, ptsMs, true);
  return header;
}

/** The 8 bytes between the header and the base JPEG of a patched frame. */
export function encodePatchHeader(x: number, y: number, baseLength: number): Uint8Array {
  const out = new Uint8Array(PATCH_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint16(0, x, true);
  view.setUint16(2, y, true);
  view.setUint32(4, baseLength, true);
  return out;
}

/** Parses a binary server message; throws on a malformed one. */
export function decodeMediaMessage(data: ArrayBuffer | Uint8Array): MediaMessage {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < MEDIA_HEADER_BYTES) throw new Error(`media message of ${bytes.length} bytes is shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = view.getUint8(0);
  const flags = view.getUint8(1);
  const value = view.getUint32(4, true);
  const ptsMs = view.getFloat64(8, true);
  const payload = bytes.subarray(MEDIA_HEADER_BYTES);
  if (kind === MEDIA_KIND.video) {
    const speaking = (flags & FLAG_SPEAKING) !== 0;
    if ((flags & FLAG_PATCH) === 0) return { kind: 'video', index: value, ptsMs, speaking, jpeg: payload };
    if (payload.length < PATCH_HEADER_BYTES) throw new Error('patched frame without its patch header');
    const x = view.getUint16(MEDIA_HEADER_BYTES, true);
    const y = view.getUint16(MEDIA_HEADER_BYTES + 2, true);
    const baseLength = view.getUint32(MEDIA_HEADER_BYTES + 4, true);
    const base = payload.subarray(PATCH_HEADER_BYTES, PATCH_HEADER_BYTES + baseLength);
    if (base.length !== baseLength) throw new Error('patched frame shorter than its base picture');
    return { kind: 'video', index: value, ptsMs, speaking, jpeg: base, patch: { x, y, jpeg: payload.subarray(PATCH_HEADER_BYTES + baseLength) } };
  }
  if (kind === MEDIA_KIND.audio) {
    // Copy when unaligned: Int16Array views need an even byte offset.
    const aligned = payload.byteOffset % 2 === 0 ? payload : payload.slice();
    return { kind: 'audio', sampleRate: value, ptsMs, pcm: new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1) };
  }
  throw new Error(`unknown media message kind ${kind}`);
}

/** Messages a client sends (JSON text frames). Binary frames carry PCM between audio.start and audio.end. */
export type ClientMessage =
  | { type: 'speak'; text: string; language?: string; voice?: string; id?: string }
  | { type: 'interrupt' }
  | { type: 'audio.start'; sampleRate?: number; echo?: boolean; id?: string }
  | { type: 'audio.end' }
  | { type: 'avatar'; avatar: string }
  | { type: 'ping'; t?: number };

/** Events the server sends (JSON text frames). */
export type ServerEvent =
  | { type: 'session.started'; sessionId: string; avatar: string; fps: number; width: number; height: number; frameMs: number }
  | { type: 'speech.started'; id: string; ptsMs: number; source: 'tts' | 'audio' }
  | { type: 'speech.ended'; id: string; ptsMs: number; reason: 'done' | 'interrupted' | 'error' }
  | { type: 'avatar.changed'; avatar: string; ptsMs: number }
  | { type: 'pong'; t?: number; ptsMs: number }
  | { type: 'video.bitrate'; kbps: number; reason: 'loss' | 'estimate' | 'clear' }
  | { type: 'error'; error: string; message: string };
