import { randomUUID } from 'node:crypto';
import type { ClientMessage } from '../../client/protocol.js';
import { checkAvatarId } from '../../core/avatar-id.js';
import { AvatarError } from '../../core/errors.js';
import { checkSpeakText } from '../../core/speak-text.js';
import { resolveLanguage } from '../../tts/language.js';

/** A client message, checked and resolved: what a session acts on. */
export type SessionCommand =
  | { readonly kind: 'speak'; readonly id: string; readonly text: string; readonly language: string; readonly voice?: string }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'audio.start'; readonly id: string; readonly sampleRate: number; readonly echo: boolean }
  | { readonly kind: 'audio.end' }
  | { readonly kind: 'audio.chunk'; readonly pcm: Int16Array }
  | { readonly kind: 'avatar'; readonly avatar: string }
  | { readonly kind: 'ping'; readonly t?: number };

/** Limits a session's input is checked against. */
export interface MessageLimits {
  readonly maxTextChars: number;
}

/**
 * Parses one realtime client message (a JSON text frame, or a binary frame of 16-bit PCM)
 * into a command. Throws `invalid_input` with a reason the client can act on.
 */
export function parseClientMessage(data: Buffer, isBinary: boolean, limits: MessageLimits): SessionCommand {
  if (isBinary) {
    if (data.length % 2 !== 0) throw new AvatarError('invalid_input', 'binary audio must be 16-bit PCM (an even number of bytes)');
    const pcm = new Int16Array(data.length >> 1);
    new Uint8Array(pcm.buffer).set(data);
    return { kind: 'audio.chunk', pcm };
  }
  let message: ClientMessage;
  try {
    message = JSON.parse(data.toString('utf8')) as ClientMessage;
  } catch {
    throw new AvatarError('invalid_input', 'messages must be JSON objects with a "type"');
  }
  switch (message?.type) {
    case 'speak': {
      const text = checkSpeakText(message.text, limits.maxTextChars, 'speak "text"');
      const language = resolveLanguage(message.language, text).code;
      if (message.voice !== undefined && (typeof message.voice !== 'string' || !/^[\w.+-]{1,64}$/.test(message.voice))) throw new AvatarError('invalid_input', '"voice" must be a voice id');
      return { kind: 'speak', id: utteranceId(message.id), text, language, ...(message.voice ? { voice: message.voice } : {}) };
    }
    case 'interrupt':
      return { kind: 'interrupt' };
    case 'audio.start': {
      const rate = message.sampleRate ?? 16000;
      if (!Number.isInteger(rate) || rate < 8000 || rate > 48000) throw new AvatarError('invalid_input', 'audio.start "sampleRate" must be a whole number from 8000 to 48000 (default 16000)');
      return { kind: 'audio.start', id: utteranceId(message.id), sampleRate: rate, echo: message.echo !== false };
    }
    case 'audio.end':
      return { kind: 'audio.end' };
    case 'avatar':
      if (typeof message.avatar !== 'string') throw new AvatarError('invalid_input', 'avatar needs "avatar": an avatar id');
      checkAvatarId(message.avatar);
      // The picture's size is part of the stream (the WebRTC track, the client's canvas); it
      // is set when the session opens, and a switch draws the new avatar at that size.
      for (const key of ['size', 'width', 'height']) {
        if (key in message) throw new AvatarError('invalid_input', `avatar takes no "${key}": a session keeps the size it opened with (the new avatar is drawn at it); open a new session for another size`);
      }
      return { kind: 'avatar', avatar: message.avatar };
    case 'ping':
      return { kind: 'ping', ...(typeof message.t === 'number' ? { t: message.t } : {}) };
    default:
      throw new AvatarError('invalid_input', `unknown message type ${JSON.stringify((message as { type?: unknown })?.type)}: use speak, interrupt, audio.start, audio.end, avatar or ping`);
  }
}

/** The client's id for an utterance when it is a plain name, else a fresh one. */
function utteranceId(given: unknown): string {
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID().slice(0, 8);
}
