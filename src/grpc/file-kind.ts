import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** True when `path` is a regular file (false for anything missing or unreadable, e.g. under a file). */
export function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/** True when `path` is a folder. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

/**
 * The entries of each folder in `dirs` as avatar folders (`path`, named `id`), in the
 * order given; a folder that cannot be read is skipped.
 */
export function* avatarFolders(dirs: readonly string[]): Generator<{ readonly id: string; readonly path: string }> {
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const id of names) yield { id, path: join(dir, id) };
  }
}
