import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { wallClock, type Clock } from '../core/clock.js';
import { AvatarError } from '../core/errors.js';
import type { Renderer } from '../render/renderer.js';
import { createRendererRegistry, type RendererModel, type RendererRegistry } from '../render/registry.js';
import { AVATAR_ID_PATTERN, checkAvatarId } from '../core/avatar-id.js';
import { BUILTIN_AVATARS } from './builtin.js';
import { BuiltinAvatarCatalog, type AvatarCatalog, type AvatarSummary, type RendererRequest } from './catalog.js';
import { FrameCache, type EvictionPolicy, type FrameCacheStats } from './frame-cache.js';
import { ImageFileFrameSource } from './frame-source.js';
import { framesStamp, loadAvatarFolder, readAvatarSummary, readCropRects, type LoadedAvatar } from './avatar-folder.js';
import type { AvatarManifest } from './manifest.js';
import type { CatalogDescription } from './catalog-description.js';

/** How a registry finds, caches and forgets avatars. */
export interface RegistryOptions {
  /** Folders whose subfolders are avatars. */
  readonly dirs: readonly string[];
  /** Bytes of decoded frames kept in memory, all avatars together (default 512 MiB). */
  readonly cacheBytes?: number;
  readonly eviction?: EvictionPolicy;
  /** Avatars unused this long are unloaded (default 30 min). */
  readonly idleUnloadMs?: number;
  /** Avatars loaded at start. */
  readonly preload?: readonly string[];
  /** Folders are rescanned for new and removed avatars this often (default 10 s; 0: never). */
  readonly rescanMs?: number;
  /** A loaded avatar's files are checked for changes at most this often (default 1 s). */
  readonly changeCheckMs?: number;
  /** The renderers avatars can ask for (default: this build's, `createRendererRegistry()`). */
  readonly renderers?: RendererRegistry;
  /** Time for idle unloading and change checks (default: the wall clock). */
  readonly clock?: Clock;
}

interface Entry {
  readonly id: string;
  readonly dir: string;
  summary: AvatarSummary;
  stamp: string;
  /** Stamp of the frame files when the avatar was loaded (see framesStamp). */
  framesStamp?: string;
  loaded?: LoadedAvatar;
  loading?: Promise<LoadedAvatar>;
  lastUsed: number;
  lastChecked: number;
  generation: number;
  /** Cache groups of this avatar's frames (one per output size). */
  readonly groups: Set<string>;
}

/** Figures of a registry, for health and metrics. */
export interface RegistryStats {
  readonly avatars: number;
  readonly loaded: number;
  readonly broken: number;
  readonly cache: FrameCacheStats;
}

/**
 * Prepared avatars in one or more folders, behind the AvatarCatalog interface. Discovery
 * reads only each avatar's manifest; frames are decoded on first use into one shared cache
 * under a byte budget. Lookups are Map gets (O(1)). Avatars idle past a timeout are
 * unloaded; an avatar whose files changed is reloaded on its next use; broken folders are
 * listed with the reason instead of failing the registry. The built-in avatars are always
 * there.
 */
export class AvatarRegistry implements AvatarCatalog {
  private readonly entries = new Map<string, Entry>();
  private readonly renderers: RendererRegistry;
  private readonly builtin: BuiltinAvatarCatalog;
  private readonly cache: FrameCache;
  private readonly timers: NodeJS.Timeout[] = [];

  private readonly now: () => number;

  private constructor(private readonly options: RegistryOptions) {
    const clock = options.clock ?? wallClock;
    this.now = () => clock.now();
    this.cache = new FrameCache(options.cacheBytes ?? 512 * 1024 * 1024, options.eviction ?? 'lru');
    this.renderers = options.renderers ?? createRendererRegistry();
    this.builtin = new BuiltinAvatarCatalog(this.renderers);
  }

  /** Discovers the avatars in `dirs` and preloads the listed ones. */
  static async open(options: RegistryOptions): Promise<AvatarRegistry> {
    const registry = new AvatarRegistry(options);
    await registry.refresh();
    for (const id of options.preload ?? []) await registry.load(id);
    const idle = options.idleUnloadMs ?? 30 * 60_000;
    registry.every(Math.max(50, Math.min(60_000, idle / 4)), () => registry.unloadIdle(idle));
    const rescan = options.rescanMs ?? 10_000;
    if (rescan > 0) registry.every(rescan, () => registry.refresh());
    return registry;
  }

  list(): AvatarSummary[] {
    return [...this.builtin.list(), ...[...this.entries.values()].map((e) => this.summaryOf(e))];
  }

  get(id: string): AvatarSummary | undefined {
    const entry = this.entries.get(id);
    return entry ? this.summaryOf(entry) : this.builtin.get(id);
  }

  /** Rescans the folders: new avatars appear, removed ones go, changed manifests are re-read. */
  async refresh(): Promise<void> {
    const seen = new Set<string>();
    for (const root of this.options.dirs.map((d) => resolve(d))) {
      const children = await readdir(root, { withFileTypes: true }).catch(() => []);
      const ids = children.filter((c) => c.isDirectory() && AVATAR_ID_PATTERN.test(c.name)).map((c) => c.name);
      // Manifests are read in batches: thousands of avatars, a bounded number of open files.
      for (let i = 0; i < ids.length; i += 64) {
        await Promise.all(ids.slice(i, i + 64).map(async (id) => {
          if (seen.has(id) || (BUILTIN_AVATARS as readonly string[]).includes(id)) return;
          seen.add(id);
          const dir = join(root, id);
          await this.readEntry(id, dir);
        }));
      }
    }
    for (const entry of [...this.entries.values()]) {
      if (!seen.has(entry.id)) {
        this.forget(entry);
        this.entries.delete(entry.id);
      }
    }
  }

  /** Re-reads one avatar's folder (created, changed or removed), leaving every other avatar as it is. */
  async refreshAvatar(id: string): Promise<void> {
    checkAvatarId(id);
    for (const root of this.options.dirs.map((d) => resolve(d))) {
      const dir = join(root, id);
      if (!(await stat(join(dir, 'avatar.json')).then(() => true, () => false))) continue;
      await this.readEntry(id, dir);
      return;
    }
    const gone = this.entries.get(id);
    if (gone) {
      this.forget(gone);
      this.entries.delete(id);
    }
  }

  /** Reads an avatar folder's summary into its entry, unless its files are unchanged. */
  private async readEntry(id: string, dir: string): Promise<void> {
    const existing = this.entries.get(id);
    const found = await readAvatarSummary(dir, id);
    if (existing && existing.stamp === found.stamp && existing.dir === dir) return;
    if (existing) this.forget(existing);
    this.entries.set(id, { id, dir, summary: found.summary, stamp: found.stamp, lastUsed: 0, lastChecked: this.now(), generation: (existing?.generation ?? 0) + 1, groups: new Set() });
  }

  /** Loads an avatar's manifest, mouth data and frame list (frames decode on demand). */
  async load(id: string): Promise<LoadedAvatar> {
    checkAvatarId(id);
    const entry = this.entries.get(id);
    if (!entry) throw new AvatarError('unknown_avatar', `unknown avatar "${id}"`);
    await this.reloadIfChanged(entry);
    entry.lastUsed = this.now();
    if (entry.summary.status === 'broken') throw new AvatarError('invalid_input', `avatar "${id}" is broken: ${entry.summary.reason}`);
    if (entry.loaded) return entry.loaded;
    entry.loading ??= framesStamp(entry.dir).then((stamp) => {
      entry.framesStamp = stamp;
      return loadAvatarFolder(entry.dir, id);
    }).then(
      (loaded) => {
        entry.loaded = loaded;
        entry.loading = undefined;
        return loaded;
      },
      (e: Error) => {
        entry.loading = undefined;
        entry.summary = { ...entry.summary, status: 'broken', reason: e.message };
        throw new AvatarError('invalid_input', `avatar "${id}" is broken: ${e.message}`);
      },
    );
    return entry.loading;
  }

  async createRenderer(id: string, request: RendererRequest): Promise<Renderer> {
    if (!this.entries.has(id)) return this.builtin.createRenderer(id, request);
    const avatar = await this.load(id);
    const entry = this.entries.get(id)!;
    const { width, height, scale } = outputSize(avatar, request);
    const group = `${id}@${width}x${height}#${entry.generation}`;
    entry.groups.add(group);
    const source = new ImageFileFrameSource(avatar.frameFiles, width, height, this.cache, group, () => { entry.lastUsed = this.now(); });
    const model = avatar.manifest.model ? modelInFolder(entry.dir, id, avatar.manifest.model) : undefined;
    const cropRects = avatar.manifest.renderer === 'onnx' ? await readCropRects(entry.dir).catch(() => undefined) : undefined;
    return this.renderers.create(avatar.manifest.renderer, {
      avatarId: id, width, height, scale, frames: source, mouth: avatar.mouth, ...(model ? { model } : {}), ...(cropRects ? { cropRects } : {}),
    });
  }

  /** Drops the frames and data of avatars unused for `idleMs`. */
  unloadIdle(idleMs: number): number {
    const now = this.now();
    let count = 0;
    for (const entry of this.entries.values()) {
      if (entry.loaded && now - entry.lastUsed >= idleMs) {
        this.forget(entry);
        count++;
      }
    }
    return count;
  }

  stats(): RegistryStats {
    let loaded = 0;
    let broken = 0;
    for (const e of this.entries.values()) {
      if (e.loaded) loaded++;
      if (e.summary.status === 'broken') broken++;
    }
    return { avatars: this.entries.size + BUILTIN_AVATARS.length, loaded, broken, cache: this.cache.stats() };
  }

  /** Folders and budget, when this registry uses this build's renderers and the wall clock. */
  describe(): CatalogDescription | undefined {
    if (this.options.renderers || this.options.clock) return undefined;
    return { kind: 'folders', dirs: this.options.dirs.map((d) => resolve(d)), ...(this.options.cacheBytes ? { cacheBytes: this.options.cacheBytes } : {}) };
  }

  /** Stops the background timers. */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  private summaryOf(entry: Entry): AvatarSummary {
    return entry.summary.loaded === Boolean(entry.loaded) ? entry.summary : { ...entry.summary, loaded: Boolean(entry.loaded) };
  }

  private async reloadIfChanged(entry: Entry): Promise<void> {
    const now = this.now();
    if (now - entry.lastChecked < (this.options.changeCheckMs ?? 1000)) return;
    entry.lastChecked = now;
    const found = await readAvatarSummary(entry.dir, entry.id);
    if (found.stamp === entry.stamp) {
      // Frames overwritten in place change no folder stamp: loaded avatars check each file.
      if (entry.framesStamp === undefined || (await framesStamp(entry.dir)) === entry.framesStamp) return;
    }
    this.forget(entry);
    entry.summary = found.summary;
    entry.stamp = found.stamp;
    entry.generation++;
  }

  private forget(entry: Entry): void {
    entry.loaded = undefined;
    entry.framesStamp = undefined;
    for (const group of entry.groups) this.cache.dropGroup(group);
    entry.groups.clear();
  }

  private every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => void Promise.resolve(task()).catch(() => undefined), ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/** Output size for a request: the avatar's own, or scaled uniformly to the requested width. */
function outputSize(avatar: LoadedAvatar, request: RendererRequest): { width: number; height: number; scale: number } {
  const { width: w0, height: h0 } = avatar.manifest;
  if (!request.width && !request.height) return { width: w0, height: h0, scale: 1 };
  const scale = request.width ? request.width / w0 : request.height! / h0;
  const width = Math.round((w0 * scale) / 2) * 2;
  const height = Math.round((h0 * scale) / 2) * 2;
  if ((request.width && request.width !== width) || (request.height && request.height !== height)) {
    throw new AvatarError('invalid_input', `avatar "${avatar.manifest.id}" is ${w0}x${h0}; a size of ${request.width ?? '?'}x${request.height ?? '?'} would change its shape (try ${width}x${height})`);
  }
  return { width, height, scale };
}

/** An avatar's model declaration with its files as absolute paths, which must lie inside the avatar folder. */
function modelInFolder(dir: string, id: string, declared: NonNullable<AvatarManifest['model']>): RendererModel {
  const inside = (file: string, what: string): string => {
    const full = resolve(dir, file);
    if (relative(resolve(dir), full).startsWith('..')) throw new AvatarError('invalid_input', `avatar "${id}": ${what} path ${file} lies outside the avatar folder`);
    return full;
  };
  return {
    ...declared,
    path: inside(declared.path, 'model'),
    ...(declared.audioEncoder ? { audioEncoder: inside(declared.audioEncoder, 'audio encoder') } : {}),
  };
}
