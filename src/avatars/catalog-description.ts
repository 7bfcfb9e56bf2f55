import { BuiltinAvatarCatalog, type AvatarCatalog } from './catalog.js';
import { AvatarRegistry } from './registry.js';

/**
 * What another thread needs to open the same avatars as a catalog: only the built-in ones,
 * or the prepared folders too. Plain data, so it crosses to a worker thread.
 */
export type CatalogDescription =
  | { readonly kind: 'builtin' }
  | { readonly kind: 'folders'; readonly dirs: readonly string[]; readonly cacheBytes?: number };

/** A catalog opened from a description, with what a painter thread needs of it. */
export interface OpenedCatalog extends AvatarCatalog {
  /** Re-reads one avatar (created, changed or removed since the catalog was opened). */
  refreshAvatar?(id: string): Promise<void>;
  close?(): void;
}

/** Opens the catalog a description names (folders are read as `AvatarRegistry` reads them). */
export async function openCatalog(description: CatalogDescription): Promise<OpenedCatalog> {
  if (description.kind === 'builtin') return new BuiltinAvatarCatalog();
  // Another thread's registry: its own rescans find new avatars, and `refreshAvatar`
  // catches up with one the caller knows before the rescan does.
  return AvatarRegistry.open({ dirs: description.dirs, ...(description.cacheBytes ? { cacheBytes: description.cacheBytes } : {}) });
}
