import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { AvatarSummary } from './catalog.js';
import { framePaths } from './frame-source.js';
import { AVATAR_FORMAT_VERSION, readManifest, readMouthFile, type AvatarManifest, type CropRects, type FrameMouth, type MouthFile } from './manifest.js';

/** An avatar folder read into memory (its frames stay on disk until decoded). */
export interface LoadedAvatar {
  readonly manifest: AvatarManifest;
  readonly mouth: MouthFile;
  readonly frameFiles: readonly string[];
}

/** A folder's summary and a stamp that changes when its files change. */
export interface FolderSummary {
  readonly summary: AvatarSummary;
  readonly stamp: string;
}

/**
 * Summarises an avatar folder without loading it: its manifest, or for a folder in the
 * layout earlier systems use (`frames/` + `crop_rects.json`, optional `checkpoint/*.onnx`)
 * an imported one. Never throws: a folder that cannot be used is `broken` with the reason.
 */
export async function readAvatarSummary(dir: string, id: string): Promise<FolderSummary> {
  const stamp = await folderStamp(dir);
  try {
    const manifest = await readFolderManifest(dir, id);
    return {
      stamp,
      summary: {
        id, name: manifest.name, renderer: manifest.renderer, width: manifest.width, height: manifest.height,
        fps: manifest.fps, status: 'ready', loaded: false, builtin: false,
      },
    };
  } catch (e) {
    return { stamp, summary: { id, name: id, renderer: 'unknown', width: 0, height: 0, fps: 0, status: 'broken', reason: (e as Error).message, loaded: false, builtin: false } };
  }
}

/** Reads an avatar folder's manifest, mouth data and frame list; throws with the reason. */
export async function loadAvatarFolder(dir: string, id: string): Promise<LoadedAvatar> {
  const manifest = await readFolderManifest(dir, id);
  const names = await readdir(join(dir, 'frames')).catch(() => {
    throw new Error('frames/ is missing');
  });
  const frameFiles = framePaths(join(dir, 'frames'), names);
  if (frameFiles.length !== manifest.frameCount) throw new Error(`frames/ holds ${frameFiles.length} frames; the manifest says ${manifest.frameCount}`);
  const hasMouth = await stat(join(dir, 'mouth.json')).then(() => true, () => false);
  const mouth = hasMouth ? await readMouthFile(dir, manifest.frameCount) : await estimateMouthFromCrops(dir, manifest);
  return { manifest, mouth, frameFiles };
}

/** The folder's avatar.json, or a manifest imported from the earlier systems' layout. */
export async function readFolderManifest(dir: string, id: string): Promise<AvatarManifest> {
  const hasManifest = await stat(join(dir, 'avatar.json')).then(() => true, () => false);
  if (hasManifest) {
    const manifest = await readManifest(dir);
    if (manifest.id !== id) throw new Error(`avatar.json says id "${manifest.id}" but the folder is "${id}"`);
    return manifest;
  }
  return importedManifest(dir, id);
}

/** A manifest for a folder in the earlier systems' layout. */
async function importedManifest(dir: string, id: string): Promise<AvatarManifest> {
  const names = await readdir(join(dir, 'frames')).catch(() => undefined);
  if (!names) throw new Error('no avatar.json and no frames/ folder: not an avatar');
  const files = framePaths(join(dir, 'frames'), names);
  if (files.length === 0) throw new Error('frames/ holds no images');
  const crops = await readCropRects(dir);
  if (crops.length !== files.length) throw new Error(`crop_rects.json has ${crops.length} rectangles for ${files.length} frames`);
  const meta = await sharp(files[0]!).metadata();
  if (!meta.width || !meta.height) throw new Error(`${files[0]} is not a readable image`);
  const checkpoints = await readdir(join(dir, 'checkpoint')).catch(() => [] as string[]);
  const model = checkpoints.find((n) => n.endsWith('.onnx') && !/audio/i.test(n));
  const encoder = checkpoints.find((n) => n.endsWith('.onnx') && /audio/i.test(n));
  return {
    id, name: id, version: AVATAR_FORMAT_VERSION, renderer: model ? 'onnx' : 'warp', fps: 25,
    width: meta.width - (meta.width % 2), height: meta.height - (meta.height % 2), frameCount: files.length,
    ...(model ? { model: { path: join('checkpoint', model), contract: 'seed320', ...(encoder ? { audioEncoder: join('checkpoint', encoder) } : {}) } } : {}),
    source: { file: 'frames/', kind: 'imported' },
    created: new Date(0).toISOString(),
  };
}

/** Reads `crop_rects.json` (a list of [x1, y1, x2, y2], or an object keyed by frame). */
export async function readCropRects(dir: string): Promise<CropRects> {
  const text = await readFile(join(dir, 'crop_rects.json'), 'utf8').catch(() => {
    throw new Error('crop_rects.json is missing');
  });
  const raw = JSON.parse(text) as unknown;
  // Either a list of [x1, y1, x2, y2] or an object keyed by frame.
  const list = Array.isArray(raw) ? raw : Object.values(raw as Record<string, unknown>);
  if (!list.every((r) => Array.isArray(r) && r.length === 4 && r.every((v) => typeof v === 'number'))) {
    throw new Error('crop_rects.json must hold [x1, y1, x2, y2] rectangles');
  }
  return list as CropRects;
}

/**
 * Mouth geometry from face crop rectangles alone (imported folders): the mouth sits at
 * about 72% of the crop's height, 36% of its width. A measured mouth.json is better:
 * `avatar prepare` writes one.
 */
async function estimateMouthFromCrops(dir: string, manifest: AvatarManifest): Promise<MouthFile> {
  const crops = await readCropRects(dir);
  const frames: FrameMouth[] = crops.map(([x1, y1, x2, y2]) => {
    const w = x2 - x1;
    const h = y2 - y1;
    return { cx: x1 + w / 2, cy: y1 + h * 0.72, width: w * 0.36, open: 0, ax: x1 + w / 2, ay: y1 + h * 0.56, chinY: y1 + h * 0.9 };
  });
  const f = frames[0]!;
  const half = f.width / 2;
  const line = (dy: number, bow: number) => [-1, -0.5, 0, 0.5, 1].map((t) => [f.cx + t * half, f.cy + dy + bow * (1 - t * t)] as const);
  return {
    version: manifest.version, frames, estimated: true,
    lips: { upperInner: line(0, 0), lowerInner: line(0, 0), upperOuter: line(0, -half * 0.3), lowerOuter: line(0, half * 0.35) },
  };
}

/**
 * A stamp of every frame file (name, mtime, size): it changes when a frame is overwritten in
 * place, which leaves the `frames/` folder's own mtime and size alone. It costs one stat per
 * frame, so it is taken for loaded avatars only, not on every rescan.
 */
export async function framesStamp(dir: string): Promise<string> {
  const folder = join(dir, 'frames');
  const names = (await readdir(folder).catch(() => [] as string[])).sort();
  const hash = createHash('sha1');
  for (let i = 0; i < names.length; i += 64) {
    const parts = await Promise.all(names.slice(i, i + 64).map((n) =>
      stat(join(folder, n)).then((s) => `${n}:${s.mtimeMs}:${s.size}\n`, () => `${n}:-\n`)));
    for (const p of parts) hash.update(p);
  }
  return `${names.length}:${hash.digest('hex')}`;
}

async function folderStamp(dir: string): Promise<string> {
  const parts = await Promise.all(['avatar.json', 'mouth.json', 'frames', 'crop_rects.json'].map((n) =>
    stat(join(dir, n)).then((s) => `${n}:${s.mtimeMs}:${s.size}`, () => `${n}:-`)));
  return parts.join('|');
}
