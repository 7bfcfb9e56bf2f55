import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Deletes files under `dir` (one level of tenant folders) older than `maxAgeMs`; returns how many. */
export async function sweepFiles(dir: string, maxAgeMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  const tenants = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const t of tenants) {
    if (!t.isDirectory()) continue;
    const folder = join(dir, t.name);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const path = join(folder, name);
      const info = await stat(path).catch(() => undefined);
      if (info && now - info.mtimeMs > maxAgeMs) {
        await rm(path, { recursive: true, force: true });
        removed++;
      }
    }
  }
  return removed;
}
