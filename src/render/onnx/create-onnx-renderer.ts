import { AvatarError } from '../../core/errors.js';
import type { RendererInput } from '../registry.js';
import type { ModelDeclaration } from './contracts.js';
import { squareCrops } from './face-crop.js';
import { loadModel, maxBatchFromEnv } from './model-session.js';
import { OnnxRenderer } from './onnx-renderer.js';

/**
 * The `onnx` renderer of an avatar: its model (the manifest's `model`, with paths made
 * absolute by the catalog), its crop rectangles, its frames. Batch size from
 * MAX_BATCH_SIZE, execution provider from AVATAR_ONNX_PROVIDER.
 */
export async function createOnnxRenderer(input: RendererInput): Promise<OnnxRenderer> {
  const declared = input.model as (ModelDeclaration & { readonly audioEncoder?: string }) | undefined;
  if (!declared) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" asks for the onnx renderer but avatar.json names no model`);
  if (!input.frames) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" has no frames`);
  const rects = input.cropRects;
  if (!rects) throw new AvatarError('invalid_input', `avatar "${input.avatarId}": crop_rects.json is missing (the onnx renderer crops faces by it)`);
  if (rects.length !== input.frames.frameCount) throw new AvatarError('invalid_input', `avatar "${input.avatarId}": crop_rects.json has ${rects.length} rectangles for ${input.frames.frameCount} frames`);
  const model = await loadModel(declared.path, declared, undefined, declared.audioEncoder);
  return new OnnxRenderer(input.frames, squareCrops(rects, input.scale), model, maxBatchFromEnv());
}
