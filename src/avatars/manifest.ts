import { isAvatarId } from '../core/avatar-id.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bounds } from '../core/geometry.js';
import type { FrameMouth, MouthFile } from '../render/avatar-input.js';
import type { ModelDeclaration } from '../render/onnx/contracts.js';

export type { FrameMouth, MouthFile };

/** Version of the avatar folder layout this code writes. */
export const AVATAR_FORMAT_VERSION = 1;

/** `avatar.json`: what an avatar folder holds and how to render it. */
export interface AvatarManifest {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  /** `warp` (one photo) or `select` (a video); `onnx` needs a model. */
  readonly renderer: 'warp' | 'select' | 'onnx';
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  readonly frameCount: number;
  readonly voice?: string;
  /** Neural lip-sync model (path inside the folder, contract and overrides) for the `onnx` renderer. */
  readonly model?: ModelDeclaration;
  readonly source: { readonly file: string; readonly kind: 'image' | 'video' | 'imported'; readonly startMs?: number; readonly durationMs?: number };
  readonly created: string;
}



/** A crop rectangle [x1, y1, x2, y2] per frame (the layout earlier systems use). */
export type CropRects = readonly Bounds[];

/** Frame file name for index i: frame_0000.jpg. */
export function frameFileName(index: number, extension = 'jpg'): string {
  return `frame_${String(index).padStart(4, '0')}.${extension}`;
}

/** Reads and checks `avatar.json`; throws an Error that says what is wrong. */
export async function readManifest(dir: string): Promise<AvatarManifest> {
  const text = await readFile(join(dir, 'avatar.json'), 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`avatar.json is not valid JSON: ${(e as Error).message}`);
  }
  return checkManifest(raw);
}

/** Checks a parsed manifest's fields. */
export function checkManifest(raw: unknown): AvatarManifest {
  if (!raw || typeof raw !== 'object') throw new Error('avatar.json must hold an object');
  const m = raw as Record<string, unknown>;
  const need = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (!ok(m[key])) throw new Error(`avatar.json: "${key}" must be ${what}`);
  };
  const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  need('id', (v) => typeof v === 'string' && isAvatarId(v), 'a plain id');
  need('renderer', (v) => v === 'warp' || v === 'select' || v === 'onnx', '"warp", "select" or "onnx"');
  need('fps', (v) => typeof v === 'number' && v > 0 && v <= 120, 'a frame rate');
  need('width', positiveInt, 'a positive whole number');
  need('height', positiveInt, 'a positive whole number');
  need('frameCount', positiveInt, 'a positive whole number');
  if ((m.width as number) % 2 || (m.height as number) % 2) throw new Error('avatar.json: width and height must be even');
  return {
    ...(m as unknown as AvatarManifest),
    name: typeof m.name === 'string' ? m.name : (m.id as string),
    version: typeof m.version === 'number' ? m.version : AVATAR_FORMAT_VERSION,
  };
}

/** Reads and checks `mouth.json` against the frame count. */
export async function readMouthFile(dir: string, frameCount: number): Promise<MouthFile> {
  const raw = JSON.parse(await readFile(join(dir, 'mouth.json'), 'utf8')) as MouthFile;
  if (!Array.isArray(raw.frames) || raw.frames.length !== frameCount) {
    throw new Error(`mouth.json has ${Array.isArray(raw.frames) ? raw.frames.length : 'no'} frames; avatar.json says ${frameCount}`);
  }
  if (!raw.lips || !Array.isArray(raw.lips.upperInner) || raw.lips.upperInner.length < 3) throw new Error('mouth.json has no lip lines');
  return raw;
}
