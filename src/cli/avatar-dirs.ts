import type { AvatarRegistry } from '../avatars/registry.js';

/** Folder of prepared avatars: `--avatars-dir`, else `$AVATAR_HOME`, else `./avatars`. */
export function avatarsDir(option: string | undefined): string {
  return option ?? process.env.AVATAR_HOME ?? 'avatars';
}

/**
 * A registry over the avatars folder for one command (no background rescans). Loaded on
 * demand: commands with the built-in avatar never load the image libraries.
 */
export async function openRegistry(option: string | undefined): Promise<AvatarRegistry> {
  const { AvatarRegistry } = await import('../avatars/registry.js');
  return AvatarRegistry.open({ dirs: [avatarsDir(option)], rescanMs: 0 });
}
