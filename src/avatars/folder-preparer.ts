import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AvatarPreparer, PrepareTarget } from './avatar-preparer.js';
import { checkAvatarId } from '../core/avatar-id.js';
import { prepareInWorker } from './prepare-in-worker.js';
import type { AvatarRegistry } from './registry.js';

/**
 * Prepares uploaded photos and videos into a registry's avatar folder (the `avatar prepare`
 * pipeline, in a worker thread) and removes them; the registry re-reads just that avatar.
 */
export class FolderAvatarPreparer implements AvatarPreparer {
  private readonly dir: string;

  constructor(dir: string, private readonly registry: AvatarRegistry) {
    this.dir = resolve(dir);
  }

  async prepare(inputPath: string, target: PrepareTarget): Promise<void> {
    await prepareInWorker({ input: inputPath, id: target.id, name: target.name, outputDir: this.dir, force: true });
    await this.registry.refreshAvatar(target.id);
  }

  async remove(id: string): Promise<void> {
    checkAvatarId(id);
    const folder = join(this.dir, id);
    if (!(await stat(join(folder, 'avatar.json')).then(() => true, () => false))) throw new Error(`no prepared avatar "${id}" in ${this.dir}`);
    await rm(folder, { recursive: true, force: true });
    await this.registry.refreshAvatar(id);
  }
}
