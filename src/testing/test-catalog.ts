import { BuiltinAvatarCatalog, type AvatarCatalog, type AvatarSummary, type RendererRequest } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import { i420FrameBytes, rgbToYuv, type VideoFrame } from '../core/frame.js';
import type { Renderer } from '../render/renderer.js';
import type { MouthFrame } from '../visemes/mouth-params.js';

/** A renderer that fills the frame with one colour, brighter as the jaw opens: easy to tell apart in tests. */
export class FlatColourRenderer implements Renderer {
  readonly name = 'flat';
  readonly mouthRegion = [0, 0, 16, 16] as const;
  constructor(readonly width: number, readonly height: number, private readonly rgb: { r: number; g: number; b: number }) {}
  render(frame: MouthFrame): VideoFrame {
    const data = new Uint8Array(i420FrameBytes(this.width, this.height));
    const lift = Math.round(frame.mouth.jawOpen * 60);
    const { y, u, v } = rgbToYuv({ r: Math.min(255, this.rgb.r + lift), g: Math.min(255, this.rgb.g + lift), b: Math.min(255, this.rgb.b + lift) });
    const lumaBytes = this.width * this.height;
    data.fill(Math.round(y), 0, lumaBytes);
    data.fill(Math.round(u), lumaBytes, lumaBytes + lumaBytes / 4);
    data.fill(Math.round(v), lumaBytes + lumaBytes / 4);
    return { width: this.width, height: this.height, data, ptsMs: frame.ptsMs };
  }
}

/** A flat-colour test avatar: its colour and, optionally, its native size (256 x 256 when not given). */
export interface FlatAvatar {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly width?: number;
  readonly height?: number;
}

/**
 * The built-in avatars plus flat-colour ones that tests can add and remove, standing in
 * for a registry of prepared avatars (same AvatarCatalog contract).
 */
export class TestCatalog implements AvatarCatalog {
  private readonly builtin = new BuiltinAvatarCatalog();
  readonly extra = new Map<string, FlatAvatar>();

  constructor(extra: Record<string, FlatAvatar> = {}) {
    for (const [id, rgb] of Object.entries(extra)) this.extra.set(id, rgb);
  }

  list(): AvatarSummary[] {
    return [...this.builtin.list(), ...[...this.extra.keys()].map((id) => this.get(id)!)];
  }

  get(id: string): AvatarSummary | undefined {
    const flat = this.extra.get(id);
    if (!flat) return this.builtin.get(id);
    return { id, name: `Flat ${id}`, renderer: 'flat', width: flat.width ?? 256, height: flat.height ?? 256, fps: 25, status: 'ready', loaded: true, builtin: false };
  }

  async createRenderer(id: string, request: RendererRequest): Promise<Renderer> {
    const rgb = this.extra.get(id);
    if (!rgb) return this.builtin.createRenderer(id, request);
    if (!this.get(id)) throw new AvatarError('unknown_avatar', `unknown avatar "${id}"`);
    return new FlatColourRenderer(request.width ?? rgb.width ?? 256, request.height ?? rgb.height ?? 256, rgb);
  }
}
