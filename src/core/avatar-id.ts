import { AvatarError } from './errors.js';

/**
 * The one rule for avatar ids: 1 to 64 of lowercase letters, digits, `_` and `-`, not
 * starting with `-` (so an id is never a path and never looks like a flag).
 */
export const AVATAR_ID_PATTERN = /^[a-z0-9_][a-z0-9_-]{0,63}$/;

/** How the rule reads in messages and help texts. */
export const AVATAR_ID_RULE = 'lowercase letters, digits, _ or - (not first), at most 64';

/** True when `id` follows the avatar-id rule. */
export function isAvatarId(id: string): boolean {
  return AVATAR_ID_PATTERN.test(id);
}

/** Throws `invalid_input` unless `id` follows the avatar-id rule. */
export function checkAvatarId(id: string): void {
  if (!isAvatarId(id)) throw new AvatarError('invalid_input', `avatar id "${id}" must be ${AVATAR_ID_RULE}`);
}

/** An avatar id made from a display name or file name (`Anna Smith.mp4` -> `anna_smith_mp4`), or undefined when nothing usable is left. */
export function avatarIdFromName(name: string): string | undefined {
  const id = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^[_-]+|[_-]+$/g, '').slice(0, 64);
  return id && isAvatarId(id) ? id : undefined;
}
