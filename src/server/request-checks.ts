import type { SpeechStreamRequest } from '../pipeline/speech-to-stream.js';
import { checkSpeakText } from '../core/speak-text.js';
import { checkAvatarId } from '../core/avatar-id.js';
import { AvatarError } from '../core/errors.js';
import { parseSize } from '../render/renderer.js';
import { resolveLanguage } from '../tts/language.js';
import type { LimitsConfig } from './config.js';

/** A generation request after validation: what a stream needs, and whether to answer with a job. */
export interface GenerateRequest extends SpeechStreamRequest {
  readonly async: boolean;
}

const FIELDS = new Set(['text', 'language', 'lang', 'avatar', 'voice', 'fps', 'size', 'async']);

/**
 * Checks a generate body (JSON, or the query of a GET stream) against the limits and
 * returns the request, or throws AvatarError with a message naming the field.
 * `textFields`: the values come from a query string or form fields, where every value is
 * text ("25"); in JSON a number must be a number.
 */
export function checkGenerateRequest(input: unknown, limits: LimitsConfig, textFields = false): GenerateRequest {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new AvatarError('invalid_input', 'the request body must be a JSON object with at least "text"');
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).filter((k) => !FIELDS.has(k) && k !== 'api_key');
  if (unknown.length) throw new AvatarError('invalid_input', `unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  const text = checkSpeakText(body.text, limits.maxTextChars);
  const languageField = body.language ?? body.lang;
  if (languageField !== undefined && typeof languageField !== 'string') throw new AvatarError('invalid_input', '"language" must be a string such as "en" or "auto"');
  const language = resolveLanguage(languageField as string | undefined, text).code;
  if (body.voice !== undefined && (typeof body.voice !== 'string' || !/^[\w.+-]{1,64}$/.test(body.voice))) {
    throw new AvatarError('invalid_input', '"voice" must be a voice id such as "en-us" (letters, digits, . + - _)');
  }
  return { text, language, ...checkRenderOptions(body, limits, textFields), ...(typeof body.voice === 'string' ? { voice: body.voice } : {}) };
}

/** The picture options of a generation (avatar, fps, size, async), checked against the limits. */
export function checkRenderOptions(body: Record<string, unknown>, limits: LimitsConfig, textFields = false): { avatar: string; fps: number; width?: number; height?: number; async: boolean } {
  const avatar = body.avatar === undefined ? 'default' : body.avatar;
  if (typeof avatar !== 'string') throw new AvatarError('invalid_input', '"avatar" must be an avatar id');
  checkAvatarId(avatar);
  const fpsOk = body.fps === undefined || typeof body.fps === 'number' || (textFields && typeof body.fps === 'string' && /^\d{1,3}$/.test(body.fps));
  const fps = body.fps === undefined ? 25 : fpsOk ? Number(body.fps) : NaN;
  if (!Number.isInteger(fps) || fps < limits.minFps || fps > limits.maxFps) {
    throw new AvatarError('invalid_input', `"fps" must be a whole number from ${limits.minFps} to ${limits.maxFps}, got ${JSON.stringify(body.fps)}`);
  }
  let size: { width: number; height: number } | undefined;
  if (body.size !== undefined) {
    if (typeof body.size !== 'string' && typeof body.size !== 'number') throw new AvatarError('invalid_input', '"size" must look like 512 or "640x480"');
    try {
      size = parseSize(body.size);
    } catch (e) {
      throw new AvatarError('invalid_input', `"size": ${(e as Error).message}`);
    }
    if (size.width > limits.maxSize || size.height > limits.maxSize) throw new AvatarError('invalid_input', `"size" sides must be at most ${limits.maxSize}`);
  }
  if (body.async !== undefined && typeof body.async !== 'boolean' && !(textFields && (body.async === 'true' || body.async === 'false'))) {
    throw new AvatarError('invalid_input', `"async" must be true or false, got ${JSON.stringify(body.async)}`);
  }
  const isAsync = body.async === true || body.async === 'true';
  return { avatar, fps, async: isAsync, ...(size ? { width: size.width, height: size.height } : {}) };
}
