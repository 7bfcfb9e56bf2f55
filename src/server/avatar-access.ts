import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AvatarCatalog, AvatarSummary } from '../avatars/catalog.js';
import { checkAvatarId } from '../core/avatar-id.js';
import { AvatarError } from '../core/errors.js';

/**
 * Which tenant owns which avatar. Avatars with no owner (the built-in ones, and any not
 * assigned in the configuration) are shared by every tenant; owned avatars are visible to
 * their tenant only, and to others they do not exist (404, never 403, so ids do not leak).
 * Ownership of uploaded avatars is kept in a JSON file so it survives restarts: written to
 * a temporary file, flushed and renamed over the old one (a crash or a full disk leaves the
 * old file or the new one, never half of one), and a file that cannot be read refuses the
 * start, since ignoring it would make private avatars public.
 */
export class AvatarAccess {
  private readonly owners = new Map<string, string>();

  constructor(readonly catalog: AvatarCatalog, configured: Readonly<Record<string, string>>, private readonly stateFile?: string) {
    for (const [id, tenant] of Object.entries(configured)) this.owners.set(id, tenant);
  }

  /** Loads the ownership of avatars uploaded in earlier runs. */
  async load(): Promise<void> {
    if (!this.stateFile) return;
    let text: string;
    try {
      text = await readFile(this.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new AvatarError('invalid_input', `cannot read the avatar ownership file ${this.stateFile}: ${(e as Error).message}`);
    }
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch (e) {
      saved = e;
    }
    const valid = saved !== null && typeof saved === 'object' && !Array.isArray(saved) && !(saved instanceof Error)
      && Object.entries(saved).every(([id, tenant]) => typeof tenant === 'string' && /^[a-z0-9_-]{1,64}$/.test(tenant) && id.length > 0);
    if (!valid) {
      throw new AvatarError('invalid_input', `the avatar ownership file ${this.stateFile} is damaged (not a JSON object of avatar id to tenant); refusing to start, since private avatars would become public. Restore it from a backup, or fix it by hand`);
    }
    for (const [id, tenant] of Object.entries(saved as Record<string, string>)) if (!this.owners.has(id)) this.owners.set(id, tenant);
  }

  /** Avatars `tenant` may use. */
  list(tenant: string): AvatarSummary[] {
    return this.catalog.list().filter((a) => this.visible(a.id, tenant));
  }

  /** Owner tenant of an avatar, or undefined when shared. */
  owner(id: string): string | undefined {
    return this.owners.get(id);
  }

  /** The avatar if `tenant` may use it; throws `invalid_input` for ids that are not plain names and `unknown_avatar` otherwise. */
  require(id: string, tenant: string): AvatarSummary {
    checkAvatarId(id);
    const summary = this.catalog.get(id);
    if (!summary || !this.visible(id, tenant)) throw new AvatarError('unknown_avatar', `unknown avatar "${id}"`);
    if (summary.status === 'broken') throw new AvatarError('invalid_input', `avatar "${id}" cannot be used: ${summary.reason ?? 'it is broken'}`);
    return summary;
  }

  /** True when the id is taken by any avatar or reserved by an owner entry (whoever owns it). */
  taken(id: string): boolean {
    return this.catalog.get(id) !== undefined || this.owners.has(id);
  }

  async assign(id: string, tenant: string): Promise<void> {
    this.owners.set(id, tenant);
    await this.save();
  }

  async release(id: string): Promise<void> {
    this.owners.delete(id);
    await this.save();
  }

  private visible(id: string, tenant: string): boolean {
    const owner = this.owners.get(id);
    return owner === undefined || owner === tenant;
  }

  private saving: Promise<void> = Promise.resolve();

  /** Saves one write after another, each the whole current state. */
  private save(): Promise<void> {
    const next = this.saving.then(() => this.writeNow(), () => this.writeNow());
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeNow(): Promise<void> {
    if (!this.stateFile) return;
    await mkdir(dirname(this.stateFile), { recursive: true });
    const temp = `${this.stateFile}.${process.pid}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(Object.fromEntries(this.owners), null, 2));
      await handle.sync();
    } catch (e) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    await handle.close();
    await rename(temp, this.stateFile);
  }
}
