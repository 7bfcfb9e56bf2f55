import * as grpc from '@grpc/grpc-js';
import type { ModelContract } from '../render/onnx/contracts.js';
import { ServiceError, TENSOR_TYPES, VISUAL_CACHE_MISS, type InferBatchRequest, type TensorType } from './proto-loading.js';
import { bytesPerValue, decodeInto, float32View } from './tensor-bytes.js';
import { MAX_VISUAL_KEY_LENGTH, type VisualCache } from './visual-cache.js';

/** A batch's model inputs as float32, ready for the model. */
export interface BatchTensors {
  readonly visual: Float32Array;
  readonly audio: Float32Array;
  readonly outputType: 'FLOAT32' | 'UINT8';
  /** First row of each output plane to send back. */
  readonly outputFirstRow: number;
  /** Time spent converting types and assembling cached frames. */
  readonly convertMs: number;
}

/** A TensorType field's value; INVALID_ARGUMENT for a number the enum does not name. */
export function tensorType(field: string, value: unknown): TensorType {
  if (value === undefined || value === null || value === '') return 'FLOAT32';
  if ((TENSOR_TYPES as readonly unknown[]).includes(value)) return value as TensorType;
  throw new ServiceError(grpc.status.INVALID_ARGUMENT, `${field} ${String(value)} is not a TensorType (${TENSOR_TYPES.join(', ')})`);
}

/** The visual_keys of a request: none, or one non-empty key of at most 256 characters per frame. */
export function visualKeys(keys: readonly string[] | undefined, n: number): readonly string[] {
  const list = keys ?? [];
  if (list.length !== 0 && list.length !== n) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `visual_keys has ${list.length} keys; batch_size ${n} needs one per frame or none`);
  const bad = list.find((k) => k.length === 0 || k.length > MAX_VISUAL_KEY_LENGTH);
  if (bad !== undefined) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `visual_keys: a key is 1 to ${MAX_VISUAL_KEY_LENGTH} characters, got ${bad.length}`);
  return list;
}

/**
 * Checks an InferBatch request against the model's contract and gives its tensors as
 * float32: visual_frames decoded from their visual_type (kept under visual_keys when
 * given), or assembled from the cache when only keys came (FAILED_PRECONDITION with
 * trailing metadata `visual-cache-miss` when one is not held); audio repeated per frame
 * when one came for the batch.
 */
export function batchTensors(request: InferBatchRequest, contract: ModelContract, cache: VisualCache): BatchTensors {
  const { model_id: id, batch_size: n } = request;
  const s = contract.size;
  const frameValues = 6 * s * s;
  const visualType = tensorType('visual_type', request.visual_type);
  const outputType = tensorType('output_type', request.output_type);
  if (outputType === 'FLOAT16') throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'output_type FLOAT16 is not offered: ask for FLOAT32 or UINT8');
  const outputFirstRow = request.output_first_row ?? 0;
  if (!Number.isInteger(outputFirstRow) || outputFirstRow < 0 || outputFirstRow >= s) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `output_first_row must be 0 to ${s - 1} (contract ${contract.name}), got ${outputFirstRow}`);
  const keys = visualKeys(request.visual_keys, n);
  const audioFloats = contract.audioShape.reduce((a, b) => a * b, 1);
  const audioBytes = request.audio_features.length;
  if (audioBytes !== n * audioFloats * 4 && audioBytes !== audioFloats * 4) {
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, `audio_features has ${audioBytes} bytes; expected [${contract.audioShape.join(', ')}] float32 for the whole batch (${audioFloats * 4}) or one per frame (${n * audioFloats * 4})`);
  }
  const bytes = request.visual_frames;
  const t0 = performance.now();
  let visual: Float32Array;
  if (bytes.length === 0 && keys.length > 0) {
    const missing: string[] = [];
    const held = cache.assemble(id, keys, frameValues, missing);
    if (!held) {
      throw new ServiceError(grpc.status.FAILED_PRECONDITION, `visual_keys not held by this inference server: ${missing.length} of ${n} (first "${missing[0]}"); send the batch again with visual_frames`, { [VISUAL_CACHE_MISS]: String(missing.length) });
    }
    visual = held;
  } else {
    const expected = n * frameValues * bytesPerValue(visualType);
    if (bytes.length !== expected) {
      throw new ServiceError(grpc.status.INVALID_ARGUMENT, `visual_frames has ${bytes.length} bytes; batch_size ${n} of [6, ${s}, ${s}] ${visualType.toLowerCase()} (contract ${contract.name}) needs ${expected}`);
    }
    if (visualType === 'FLOAT32') {
      // Kept tensors must not share the received message's memory (it would stay alive whole).
      const view = float32View(bytes);
      visual = keys.length > 0 && view.buffer === bytes.buffer ? view.slice() : view;
    } else {
      visual = new Float32Array(n * frameValues);
      decodeInto(bytes, visualType, visual, 0);
    }
    cache.keep(id, keys, visual, frameValues);
  }
  let audio = float32View(request.audio_features);
  if (audio.length !== n * audioFloats) {
    const one = audio;
    audio = new Float32Array(n * audioFloats);
    for (let i = 0; i < n; i++) audio.set(one, i * audioFloats);
  }
  return { visual, audio, outputType, outputFirstRow, convertMs: performance.now() - t0 };
}
