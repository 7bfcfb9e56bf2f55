import { relative, resolve } from 'node:path';
import { readCropRects } from '../../avatars/avatar-folder.js';
import type { FrameSource } from '../../avatars/frame-source.js';
import type { AvatarManifest } from '../../avatars/manifest.js';
import { AvatarError } from '../../core/errors.js';
import { squareCrops } from './face-crop.js';
import { loadModel, maxBatchFromEnv } from './model-session.js';
import { OnnxRenderer } from './onnx-renderer.js';

/**
 * The `onnx` renderer of an avatar folder: its model (avatar.json `model`, a path inside
 * the folder), its crop rectangles, its frames. Batch size from MAX_BATCH_SIZE, execution
 * provider from AVATAR_ONNX_PROVIDER.
 */
export async function createOnnxRenderer(dir: string, manifest: AvatarManifest, frames: FrameSource, scale: number): Promise<OnnxRenderer> {
  const declared = manifest.model;
  if (!declared) throw new AvatarError('invalid_input', `avatar "${manifest.id}" asks for the onnx renderer but avatar.json names no model`);
  const file = resolve(dir, declared.path);
  const inside = relative(resolve(dir), file);
  if (inside.startsWith('..') || resolve(dir, inside) !== file) throw new AvatarError('invalid_input', `avatar "${manifest.id}": model path ${declared.path} lies outside the avatar folder`);
  let encoder: string | undefined;
  if (declared.audioEncoder) {
    encoder = resolve(dir, declared.audioEncoder);
    if (relative(resolve(dir), encoder).startsWith('..')) throw new AvatarError('invalid_input', `avatar "${manifest.id}": audio encoder path ${declared.audioEncoder} lies outside the avatar folder`);
  }
  const model = await loadModel(file, declared, undefined, encoder);
  let rects;
  try {
    rects = await readCropRects(dir);
  } catch (e) {
    throw new AvatarError('invalid_input', `avatar "${manifest.id}": ${(e as Error).message} (the onnx renderer crops faces by it)`);
  }
  if (rects.length !== frames.frameCount) throw new AvatarError('invalid_input', `avatar "${manifest.id}": crop_rects.json has ${rects.length} rectangles for ${frames.frameCount} frames`);
  return new OnnxRenderer(frames, squareCrops(rects, scale), model, maxBatchFromEnv());
}
