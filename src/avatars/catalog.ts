import { AvatarError } from '../core/errors.js';
import type { Renderer } from '../render/renderer.js';
import { checkAvatarId } from '../core/avatar-id.js';
import { createRendererRegistry, type RendererRegistry } from '../render/registry.js';
import { BUILTIN_AVATARS } from './builtin.js';
import type { CatalogDescription } from './catalog-description.js';

/** One avatar as a catalog lists it. */
export interface AvatarSummary {
  readonly id: string;
  readonly name: string;
  /** Renderer the avatar's manifest asks for: `parametric`, `warp`, `select`, `onnx`. */
  readonly renderer: string;
  /** Native size and frame rate of the avatar's source (output may be scaled). */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** `broken` avatars stay listed with the reason, so one bad folder never hides the rest. */
  readonly status: 'ready' | 'broken';
  readonly reason?: string;
  /** True while its frames are held in memory. */
  readonly loaded: boolean;
  /** Built-in avatars need no files. */
  readonly builtin: boolean;
}

/** Output wanted from a renderer. Width/height default to the avatar's native size. */
export interface RendererRequest {
  readonly width?: number;
  readonly height?: number;
  readonly fps: number;
}

/**
 * Where avatars come from: the built-in drawn avatar, or a registry of prepared avatar
 * folders. Lookups by id are O(1); loading is lazy and happens in `createRenderer`.
 */
export interface AvatarCatalog {
  list(): AvatarSummary[];
  /** Summary of one avatar, or undefined when unknown. */
  get(id: string): AvatarSummary | undefined;
  /** A renderer for a new stream. Throws AvatarError `unknown_avatar` or `invalid_input`. */
  createRenderer(id: string, request: RendererRequest): Promise<Renderer>;
  /**
   * How another thread can open the same avatars, when it can (catalogs with renderers or
   * avatars of their own making cannot be described): realtime painting threads use it.
   */
  describe?(): CatalogDescription | undefined;
  /** Re-reads one avatar from where it is kept (made, changed or removed by another process), where the catalog reads from files. */
  refreshAvatar?(id: string): Promise<void>;
}

const DEFAULT_SIZE = 512;

/** The avatars that ship with the project (no files). */
export class BuiltinAvatarCatalog implements AvatarCatalog {
  private readonly renderers: RendererRegistry;
  /** With renderers of the caller's making, another thread could not rebuild this catalog. */
  private readonly describable: boolean;

  constructor(renderers?: RendererRegistry) {
    this.renderers = renderers ?? createRendererRegistry();
    this.describable = !renderers;
  }

  describe(): CatalogDescription | undefined {
    return this.describable ? { kind: 'builtin' } : undefined;
  }

  list(): AvatarSummary[] {
    return BUILTIN_AVATARS.map((id) => this.get(id)!);
  }

  get(id: string): AvatarSummary | undefined {
    if (!(BUILTIN_AVATARS as readonly string[]).includes(id)) return undefined;
    return {
      id, name: 'Built-in drawn avatar', renderer: 'parametric', width: DEFAULT_SIZE, height: DEFAULT_SIZE,
      fps: 25, status: 'ready', loaded: true, builtin: true,
    };
  }

  async createRenderer(id: string, request: RendererRequest): Promise<Renderer> {
    checkAvatarId(id);
    if (!this.get(id) && id !== 'parametric') {
      throw new AvatarError('unknown_avatar', `unknown avatar "${id}" (known: ${BUILTIN_AVATARS.join(', ')})`);
    }
    const width = request.width ?? DEFAULT_SIZE;
    const height = request.height ?? DEFAULT_SIZE;
    return this.renderers.create('parametric', { avatarId: id, width, height, scale: 1 });
  }
}
