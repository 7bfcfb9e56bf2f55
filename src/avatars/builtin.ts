/** Avatars that ship with the project (no files needed): drawn by the `parametric` renderer. */
export const BUILTIN_AVATARS = ['default'] as const;
