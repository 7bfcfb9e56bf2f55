import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Folder of the .proto files (the package's `proto/`). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** How messages map to JS: field names as in the .proto (snake_case), bytes as Buffer, defaults filled. */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** The service definitions of seed 002's compositing API and of the inference API. */
export interface ServiceDefinitions {
  readonly compositing: grpc.ServiceClientConstructor;
  readonly inference: grpc.ServiceClientConstructor;
}

let loaded: ServiceDefinitions | undefined;

/** Loads proto/compositing.proto and proto/inference.proto once. */
export function serviceDefinitions(): ServiceDefinitions {
  if (loaded) return loaded;
  const load = (file: string) => grpc.loadPackageDefinition(protoLoader.loadSync(file, { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] }));
  const compositing = load('compositing.proto').compositing as grpc.GrpcObject;
  const inference = load('inference.proto').inference as grpc.GrpcObject;
  loaded = {
    compositing: compositing.CompositingService as grpc.ServiceClientConstructor,
    inference: inference.InferenceService as grpc.ServiceClientConstructor,
  };
  return loaded;
}

/** Where a received request keeps its serialized bytes (see withRawRequest). */
export const RAW_MESSAGE = Symbol('raw message bytes');

/**
 * A service definition whose `method` requests keep their serialized bytes under
 * RAW_MESSAGE, and whose serializer sends those bytes as they are when a request carries
 * them. CompositeBatchRequest's fields 1-4 are InferBatchRequest's, so the compositing
 * service forwards a batch to the inference service without encoding ~60 MB again (the
 * extra field 5 is skipped as unknown by any protobuf decoder).
 */
export function withRawRequest(service: grpc.ServiceDefinition, method: string): grpc.ServiceDefinition {
  const original = service[method]!;
  return {
    ...service,
    [method]: {
      ...original,
      requestDeserialize: (bytes: Buffer) => {
        const message = original.requestDeserialize(bytes) as object;
        Object.defineProperty(message, RAW_MESSAGE, { value: bytes });
        return message;
      },
      requestSerialize: (message: object) => (message as { [RAW_MESSAGE]?: Buffer })[RAW_MESSAGE] ?? original.requestSerialize(message),
    },
  };
}

/** Element type of a tensor sent as bytes (the protos' TensorType; FLOAT32 when absent). */
export type TensorType = 'FLOAT32' | 'UINT8' | 'FLOAT16';

/** The TensorType names, in enum order. */
export const TENSOR_TYPES: readonly TensorType[] = ['FLOAT32', 'UINT8', 'FLOAT16'];

/** Seed 002's CompositeBatchRequest (field names as on the wire), with the optional additions. */
export interface CompositeBatchRequest {
  model_id: string;
  visual_frames: Buffer;
  audio_features: Buffer;
  batch_size: number;
  start_frame_idx: number;
  visual_type?: TensorType;
  visual_keys?: string[];
}

/** Seed 002's CompositeBatchResponse. */
export interface CompositeBatchResponse {
  success: boolean;
  error: string;
  composited_frames: Buffer[];
  gpu_id: number;
  inference_time_ms: number;
  composite_time_ms: number;
  total_time_ms: number;
}

/** Seed 002's compositing HealthResponse. */
export interface CompositingHealth {
  healthy: boolean;
  loaded_models: number;
  max_models: number;
  inference_server_url: string;
  inference_server_healthy: boolean;
  version: string;
}

/** One frame of the InferBatchCompositeStream addition. */
export interface CompositedFrame {
  frame_idx: number;
  data: Buffer;
  gpu_id: number;
  inference_time_ms: number;
  composite_time_ms: number;
}

/** InferenceService.InferBatch request, with the optional additions. */
export interface InferBatchRequest {
  model_id: string;
  visual_frames: Buffer;
  audio_features: Buffer;
  batch_size: number;
  visual_type?: TensorType;
  visual_keys?: string[];
  output_type?: TensorType;
  output_first_row?: number;
}

/** InferenceService.InferBatch response. */
export interface InferBatchResponse {
  success: boolean;
  error: string;
  outputs: Buffer;
  gpu_id: number;
  inference_time_ms: number;
  output_size: number;
  queue_time_ms: number;
  output_type: TensorType;
  convert_time_ms: number;
  output_first_row: number;
}

/** InferenceService.Health response. */
export interface InferenceHealth {
  healthy: boolean;
  gpu_count: number;
  loaded_models: number;
  max_models: number;
  version: string;
  queued_requests: number;
  registered_models: number;
}

/** Trailing metadata key of a call that named visual_keys the inference server does not hold. */
export const VISUAL_CACHE_MISS = 'visual-cache-miss';

/** Marks an error made of an answer that said `success: false` (seed 002's in-band failure) rather than a gRPC status. */
export const FAILED_IN_BAND = 'failed-in-band';

/** A gRPC error with a status code (and trailing metadata), as services throw and clients receive them. */
export class ServiceError extends Error {
  constructor(readonly code: grpc.status, message: string, readonly trailers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'ServiceError';
  }

  /** The form grpc-js sends back to the caller. */
  toGrpc(): Partial<grpc.StatusObject> {
    const keys = Object.keys(this.trailers);
    if (keys.length === 0) return { code: this.code, details: this.message };
    const metadata = new grpc.Metadata();
    for (const k of keys) metadata.set(k, this.trailers[k]!);
    return { code: this.code, details: this.message, metadata };
  }
}

/** Package version, reported by Health. */
export const SERVICE_VERSION = '1.0.0';
