import { AvatarError } from '../core/errors.js';
import { ParametricRenderer } from '../render/parametric/parametric-renderer.js';
import type { Renderer } from '../render/renderer.js';

/** Avatars that ship with the project (no files needed). */
export const BUILTIN_AVATARS = ['default'] as const;

/** Avatar ids are plain names: lowercase letters, digits, `_` and `-`; never a path. */
export function checkAvatarId(id: string): void {
  if (!/^[a-z0-9_][a-z0-9_-]{0,63}$/.test(id)) {
    throw new AvatarError('invalid_input', `avatar id "${id}" must be lowercase letters, digits, _ or - (at most 64)`);
  }
}

/** A renderer for a built-in avatar at the given size. */
export function createBuiltinRenderer(id: string, width: number, height: number): Renderer {
  checkAvatarId(id);
  if (id === 'default' || id === 'parametric') return new ParametricRenderer(width, height);
  throw new AvatarError('unknown_avatar', `unknown avatar "${id}" (built in: ${BUILTIN_AVATARS.join(', ')})`);
}
