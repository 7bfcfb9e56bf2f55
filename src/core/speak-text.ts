import { AvatarError } from './errors.js';

/**
 * The one check for text to speak: something pronounceable (a letter or digit) within
 * `maxChars`. Returns the trimmed text. `field` names the input in messages (`"text"`).
 */
export function checkSpeakText(text: unknown, maxChars: number, field = '"text"'): string {
  if (typeof text !== 'string') throw new AvatarError('invalid_input', `${field} is required and must be a string`);
  const trimmed = text.trim();
  if (!/[\p{L}\p{N}]/u.test(trimmed)) throw new AvatarError('invalid_input', `nothing to say: ${field} is empty`);
  if (trimmed.length > maxChars) throw new AvatarError('invalid_input', `${field} is ${trimmed.length} characters; the limit is ${maxChars}`);
  return trimmed;
}
