import { AvatarError } from '../../core/errors.js';
import type { RendererInput } from '../registry.js';
import type { ModelDeclaration } from './contracts.js';
import { squareCrops } from './face-crop.js';
import { loadModel, maxBatchFromEnv } from './model-session.js';
import { OnnxRenderer } from './onnx-renderer.js';

/**
 * The `onnx` renderer of an avatar: its model (the manifest's `model`, with paths made
 * absolute by the catalog), its crop rectangles, its frames. Batch size from
 * MAX_BATCH_SIZE, execution provider from AVATAR_ONNX_PROVIDER; with AVATAR_INFERENCE_URL the
 * model runs on that inference service under the avatar's id.
 */
export async function createOnnxRenderer(input: RendererInput): Promise<OnnxRenderer> {
  const declared = input.model as (ModelDeclaration & { readonly audioEncoder?: string }) | undefined;
  if (!declared) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" asks for the onnx renderer but avatar.json names no model`);
  if (!input.frames) throw new AvatarError('invalid_input', `avatar "${input.avatarId}" has no frames`);
  const rects = input.cropRects;
  if (!rects) throw new AvatarError('invalid_input', `avatar "${input.avatarId}": crop_rects.json is missing (the onnx renderer crops faces by it)`);
  if (rects.length !== input.frames.frameCount) throw new AvatarError('invalid_input', `avatar "${input.avatarId}": crop_rects.json has ${rects.length} rectangles for ${input.frames.frameCount} frames`);
  // A remote inference service (seed 002's InferenceService) runs the model when one is configured.
  const remote = process.env.AVATAR_INFERENCE_URL ? await import('../../grpc/remote-model.js') : undefined;
  const urls = remote?.inferenceUrlsFromEnv();
  const model = remote && urls
    ? await remote.openRemoteModel(urls, input.avatarId, declared)
    : await loadModel(declared.path, declared, undefined, declared.audioEncoder);
  return new OnnxRenderer(input.frames, squareCrops(rects, input.scale), model, maxBatchFromEnv());
}
