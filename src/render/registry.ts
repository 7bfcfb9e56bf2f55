import { AvatarError } from '../core/errors.js';
import type { Bounds } from '../core/geometry.js';
import type { FrameSource, MouthFile } from './avatar-input.js';
import { ParametricRenderer } from './parametric/parametric-renderer.js';
import type { Renderer } from './renderer.js';
import { SelectRenderer } from './select/select-renderer.js';
import { WarpRenderer } from './warp/warp-renderer.js';

/** A neural model an avatar declares (`model` in its manifest), with an absolute path. */
export interface RendererModel {
  readonly path: string;
  readonly contract: string;
  /** Further contract settings from the manifest, read by the renderer that uses the model. */
  readonly [setting: string]: unknown;
}

/** What a renderer is built from: the avatar's frames and measured mouth, at an output size. */
export interface RendererInput {
  readonly avatarId: string;
  /** Output size in pixels. */
  readonly width: number;
  readonly height: number;
  /** Output pixels per pixel of the avatar's stored geometry (mouth.json, crop rects). */
  readonly scale: number;
  /** Stored frames at the output size (absent for drawn avatars). */
  readonly frames?: FrameSource;
  /** Mouth geometry measured on the stored frames (absent for drawn avatars). */
  readonly mouth?: MouthFile;
  readonly model?: RendererModel;
  /** The avatar's face crop per stored frame (`crop_rects.json`), for renderers that crop faces. */
  readonly cropRects?: readonly Bounds[];
}

/** Builds one renderer (one per stream or stage: renderers keep per-stream state). */
export type RendererFactory = (input: RendererInput) => Renderer | Promise<Renderer>;

/**
 * Renderer names (as an avatar manifest gives them) mapped to factories. Registration is
 * explicit: `createRendererRegistry` lists the renderers this build has; a new lip-sync
 * engine is one more `register` call there.
 */
export class RendererRegistry {
  private readonly factories = new Map<string, RendererFactory>();

  /** Adds a renderer; a name can be registered once. */
  register(name: string, factory: RendererFactory): this {
    if (this.factories.has(name)) throw new Error(`renderer "${name}" is registered twice`);
    this.factories.set(name, factory);
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  /** Names of the registered renderers. */
  names(): string[] {
    return [...this.factories.keys()];
  }

  /** A renderer `name` for `input`; `invalid_input` when this build has no such renderer. */
  async create(name: string, input: RendererInput): Promise<Renderer> {
    const factory = this.factories.get(name);
    if (!factory) {
      throw new AvatarError('invalid_input', `avatar "${input.avatarId}" needs the ${name} renderer, which this build does not have (renderers: ${this.names().join(', ')})`);
    }
    return factory(input);
  }
}

/**
 * The renderers of this build: `parametric` (drawn), `warp` (a photo), `select` (a video),
 * `onnx` (a user's neural model; its runtime loads on first use).
 */
export function createRendererRegistry(): RendererRegistry {
  return new RendererRegistry()
    .register('parametric', (input) => new ParametricRenderer(input.width, input.height))
    .register('warp', (input) => new WarpRenderer(needFrames(input), needMouth(input), input.scale))
    .register('select', (input) => new SelectRenderer(needFrames(input), needMouth(input).frames, input.scale))
    .register('onnx', async (input) => (await import('./onnx/create-onnx-renderer.js')).createOnnxRenderer(input));
}

function needFrames(input: RendererInput): FrameSource {
  if (!input.frames) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" has no frames`);
  return input.frames;
}

function needMouth(input: RendererInput): MouthFile {
  if (!input.mouth) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" has no mouth geometry (mouth.json)`);
  return input.mouth;
}
