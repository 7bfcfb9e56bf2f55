import { AvatarError } from '../core/errors.js';
import { resolveContract, type ModelDeclaration } from '../render/onnx/contracts.js';
import { loadEncoderOnly, loadOrt, type LoadedModel, type ModelRunner } from '../render/onnx/model-session.js';
import { MAX_BATCH } from './inference-service.js';
import { InferencePool } from './inference-pool.js';
import { float32Bytes, float32View } from './tensor-bytes.js';

/** Where `onnx` avatars send inference when set: AVATAR_INFERENCE_URL=host:port[,host:port...]. */
export function inferenceUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.AVATAR_INFERENCE_URL?.trim();
  if (!raw) return undefined;
  const urls = raw.split(',').map((u) => u.trim()).filter(Boolean);
  for (const url of urls) if (!/^[^\s/]+:\d{1,5}$/.test(url)) throw new AvatarError('invalid_input', `AVATAR_INFERENCE_URL: "${url}" must be host:port`);
  return urls;
}

const pools = new Map<string, Promise<InferencePool>>();

/** One pool of inference clients per URL list, shared by every avatar that uses it. */
function poolFor(urls: readonly string[], timeoutMs: number): Promise<InferencePool> {
  const key = urls.join(',');
  let pool = pools.get(key);
  if (!pool) {
    pool = InferencePool.connect({ urls, timeoutMs, maxRetries: 3, balancing: 'least-loaded', healthIntervalMs: 1000, maxMessageBytes: 512 * 1024 * 1024 });
    pools.set(key, pool);
    pool.catch(() => pools.delete(key));
  }
  return pool;
}

/**
 * An avatar's model run by a remote inference service (seed 002's InferenceService) under
 * the avatar's id: the same tensors the local session would get, sent as float32 bytes.
 * The service checks the model against its contract; an audio encoder, when the avatar
 * declares one, still runs here.
 */
export async function openRemoteModel(urls: readonly string[], modelId: string, declaration: ModelDeclaration, timeoutMs = Number(process.env.AVATAR_INFERENCE_TIMEOUT_MS ?? 30_000)): Promise<LoadedModel> {
  const contract = resolveContract(declaration);
  const pool = await poolFor(urls, timeoutMs);
  const ort = await loadOrt();
  const runner: ModelRunner = {
    async run(feeds) {
      const visual = feeds[contract.visualInput]!;
      const audio = feeds[contract.audioInput]!;
      const n = visual.dims[0]!;
      let result;
      try {
        result = await pool.infer({ model_id: modelId, batch_size: n, visual_frames: float32Bytes(visual.data as Float32Array), audio_features: float32Bytes(audio.data as Float32Array) });
      } catch (e) {
        throw new AvatarError('invalid_input', `remote inference of "${modelId}" failed: ${(e as Error).message}`, { retryable: true });
      }
      const s = result.output_size;
      return { [contract.output]: new ort.Tensor('float32', float32View(result.outputs), [n, 3, s, s]) };
    },
    release: () => Promise.resolve(),
  };
  const encoder = declaration.audioEncoder ? await loadEncoderOnly(declaration.audioEncoder, contract) : undefined;
  return {
    file: `grpc://${urls.join(',')}/${modelId}`, contract, session: runner, provider: 'remote',
    visualInput: contract.visualInput, audioInput: contract.audioInput, output: contract.output,
    fp16: false, maxBatch: MAX_BATCH, ...(encoder ? { audioEncoder: encoder } : {}),
  };
}
