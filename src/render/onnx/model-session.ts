import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AvatarError } from '../../core/errors.js';
import { resolveContract, type ModelContract, type ModelDeclaration } from './contracts.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** Execution providers: `auto` takes CUDA where its provider library is installed, else CPU. */
export type ProviderChoice = 'auto' | 'cpu' | 'cuda';

/** What runs a model: an onnxruntime session here, or a remote inference service. */
export interface ModelRunner {
  /**
   * Runs the model. `fetches` may name tensors for outputs to be written into (a local
   * session does; a remote one answers with its own): read the outputs from the result.
   */
  run(feeds: Record<string, import('onnxruntime-node').Tensor>, fetches?: Record<string, import('onnxruntime-node').Tensor>): Promise<Record<string, import('onnxruntime-node').OnnxValue>>;
  release(): Promise<void>;
}

/** A model ready to run, checked against its contract. */
export interface LoadedModel {
  /** The model file, or `grpc://URL/MODEL` for a remote one. */
  readonly file: string;
  readonly contract: ModelContract;
  readonly session: ModelRunner;
  readonly visualInput: string;
  readonly audioInput: string;
  readonly output: string;
  /** Input/output element type the model declares. */
  readonly fp16: boolean;
  /** Largest batch the model takes (a fixed batch dimension limits it). */
  readonly maxBatch: number;
  /** The execution provider the session runs on (`remote`: an inference service, see src/grpc/). */
  readonly provider: 'cuda' | 'cpu' | 'remote';
  /** The audio encoder that maps mel windows onto the model's audio input, if declared. */
  readonly audioEncoder?: { readonly file: string; readonly session: Session; readonly input: string; readonly output: string };
}

let ortModule: Promise<Ort> | undefined;

/**
 * Session options for onnxruntime's thread pools. By default they wait for the next run by
 * spinning, a core's worth of CPU between runs, while here the same cores encode,
 * composite and answer gRPC: with spinning off (the default here) the inference service
 * spends ~10% less CPU per frame and the gRPC hop's time beside the model run falls by
 * about a third (bench:grpc, fast path). A machine that only runs models may turn it back
 * on with AVATAR_ONNX_SPIN=1 (a batch-1 run starts a little sooner).
 */
export function threadPoolOptions(env: NodeJS.ProcessEnv = process.env): { extra?: Record<string, unknown> } {
  if (env.AVATAR_ONNX_SPIN === '1') return {};
  return { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } };
}

/** onnxruntime-node, loaded on first use (the CLI does not pay for it otherwise). */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').then((m) => ((m as unknown as { default?: Ort }).default ?? m));
  return ortModule;
}

/** True when onnxruntime-node's CUDA provider library is installed (see README: GPU). */
export function cudaProviderInstalled(): boolean {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const bin = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, 'libonnxruntime_providers_cuda.so')) || existsSync(join(bin, 'onnxruntime_providers_cuda.dll'));
  } catch {
    return false;
  }
}

/** Provider choice from the environment: AVATAR_ONNX_PROVIDER=auto|cpu|cuda. */
export function providerFromEnv(env: NodeJS.ProcessEnv = process.env): ProviderChoice {
  const v = (env.AVATAR_ONNX_PROVIDER ?? 'auto').toLowerCase();
  if (v !== 'auto' && v !== 'cpu' && v !== 'cuda') throw new AvatarError('invalid_input', `AVATAR_ONNX_PROVIDER must be auto, cpu or cuda, got "${v}"`);
  return v;
}

/** Largest inference batch from MAX_BATCH_SIZE (seed 001's name) or AVATAR_MAX_BATCH_SIZE; default 8. */
export function maxBatchFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.AVATAR_MAX_BATCH_SIZE ?? env.MAX_BATCH_SIZE;
  if (raw === undefined || raw === '') return 8;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 256) throw new AvatarError('invalid_input', `MAX_BATCH_SIZE must be a whole number from 1 to 256, got "${raw}"`);
  return v;
}

const sessions = new Map<string, Promise<LoadedModel>>();

/**
 * Loads a model (one session per file and modification time, shared by all renderers) and
 * checks its inputs and output against the contract. Every failure is an AvatarError
 * `invalid_input` naming the file and what was expected.
 */
export async function loadModel(file: string, declaration: ModelDeclaration, provider: ProviderChoice = providerFromEnv(), encoderFile?: string): Promise<LoadedModel> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new AvatarError('invalid_input', `model ${file} does not exist`);
  const encoderInfo = encoderFile ? await stat(encoderFile).catch(() => undefined) : undefined;
  if (encoderFile && !encoderInfo?.isFile()) throw new AvatarError('invalid_input', `audio encoder ${encoderFile} does not exist`);
  const key = `${file}|${info.mtimeMs}|${info.size}|${JSON.stringify(declaration)}|${provider}|${encoderFile}|${encoderInfo?.mtimeMs}`;
  let loading = sessions.get(key);
  if (!loading) {
    loading = openModel(file, declaration, provider, encoderFile);
    sessions.set(key, loading);
    loading.catch(() => sessions.delete(key));
  }
  return loading;
}

/**
 * Opens a model without sharing its session (the caller releases it with
 * `session.release()`), checked against its contract like loadModel. `deviceId` picks the
 * CUDA device when the provider is CUDA.
 */
export async function openModel(file: string, declaration: ModelDeclaration, choice: ProviderChoice, encoderFile?: string, deviceId = 0): Promise<LoadedModel> {
  let contract: ModelContract & { explicitNames: boolean; fp16?: boolean };
  try {
    contract = resolveContract(declaration);
  } catch (e) {
    throw new AvatarError('invalid_input', `model ${file}: ${(e as Error).message}`);
  }
  const ort = await loadOrt();
  const provider = choice === 'cuda' || (choice === 'auto' && cudaProviderInstalled()) ? 'cuda' : 'cpu';
  if (provider === 'cuda' && !cudaProviderInstalled()) {
    throw new AvatarError('invalid_input', 'AVATAR_ONNX_PROVIDER=cuda but the CUDA provider is not installed (see README: ONNX models on a GPU)');
  }
  const bytes = await readFile(file);
  let session: Session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId }, 'cpu'] : ['cpu'], graphOptimizationLevel: 'all', ...threadPoolOptions() });
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0]!.replace(/^\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
    throw new AvatarError('invalid_input', `model ${file} cannot be loaded as an ONNX model for contract ${contract.name}: ${reason}`);
  }
  const fail = (what: string): never => {
    void session.release().catch(() => undefined);
    throw new AvatarError('invalid_input', `model ${file} does not fit contract ${contract.name}: ${what}`);
  };
  const inputs = session.inputMetadata;
  const describe = (m: (typeof inputs)[number]) => `"${m.name}" ${m.isTensor ? `[${m.shape.join(', ')}]` : '(not a tensor)'}`;
  const all = inputs.map(describe).join(', ');
  const expectVisual = [6, contract.size, contract.size];
  const pick = (wanted: string, aliases: readonly string[], rank: number, test: (shape: readonly (number | string)[]) => boolean) => {
    const byName = inputs.find((m) => m.name === wanted);
    if (byName || contract.explicitNames) return byName;
    return inputs.find((m) => aliases.includes(m.name) && m.isTensor && m.shape.length === rank) ??
      inputs.find((m) => m.isTensor && m.shape.length === rank && test(m.shape));
  };
  const visual = pick(contract.visualInput, contract.visualAliases, 4, (s) => s[1] === 6);
  const audio = pick(contract.audioInput, contract.audioAliases, contract.audioShape.length + 1, (s) => s[1] !== 6);
  if (inputs.length !== 2) fail(`it has ${inputs.length} inputs (${all}); expected 2: visual "${contract.visualInput}" [batch, ${expectVisual.join(', ')}] and audio "${contract.audioInput}" [batch, ${contract.audioShape.join(', ')}]`);
  if (!visual) fail(`no visual input "${contract.visualInput}" [batch, ${expectVisual.join(', ')}] among its inputs ${all}`);
  if (!audio || audio.name === visual!.name) fail(`no audio input "${contract.audioInput}" [batch, ${contract.audioShape.join(', ')}] among its inputs ${all}`);
  const checkShape = (what: string, m: { name: string; shape: readonly (number | string)[] }, expected: readonly number[]) => {
    const shape = m.shape;
    const ok = shape.length === expected.length + 1 && expected.every((d, i) => typeof shape[i + 1] !== 'number' || shape[i + 1] === d);
    if (!ok) fail(`${what} "${m.name}" has shape [${shape.join(', ')}] (rank ${shape.length}); expected [batch, ${expected.join(', ')}] (rank ${expected.length + 1})`);
  };
  checkShape('visual input', visual as { name: string; shape: readonly (number | string)[] }, expectVisual);
  checkShape('audio input', audio as { name: string; shape: readonly (number | string)[] }, contract.audioShape);
  const outputs = session.outputMetadata;
  const output = outputs.find((m) => m.name === contract.output) ?? (outputs.length === 1 && !declaration.output ? outputs[0] : undefined);
  if (!output) fail(`no output "${contract.output}" [batch, 3, ${contract.size}, ${contract.size}] among its outputs ${outputs.map((m) => `"${m.name}"`).join(', ')}`);
  checkShape('output', output as { name: string; shape: readonly (number | string)[] }, [3, contract.size, contract.size]);
  const types = [visual, audio, output].map((m) => (m as { type?: string }).type);
  if (types.some((t) => t !== 'float32' && t !== 'float16')) fail(`tensors must be float32 or float16, found ${types.join(', ')}`);
  const batchDims = [visual, audio, output].map((m) => (m as { shape: readonly (number | string)[] }).shape[0]);
  const fixed = batchDims.filter((d): d is number => typeof d === 'number');
  const audioEncoder = encoderFile ? await openAudioEncoder(encoderFile, contract, provider) : undefined;
  return {
    file, contract, session, provider, ...(audioEncoder ? { audioEncoder } : {}),
    visualInput: visual!.name, audioInput: audio!.name, output: output!.name,
    fp16: contract.fp16 ?? types[0] === 'float16',
    maxBatch: fixed.length ? Math.min(...fixed) : Number.MAX_SAFE_INTEGER,
  };
}

/** Loads an audio encoder on its own (for `avatar features`), checked against the contract. */
export async function loadEncoderOnly(file: string, contract: ModelContract): Promise<NonNullable<LoadedModel['audioEncoder']>> {
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new AvatarError('invalid_input', `audio encoder ${file} does not exist`);
  return openAudioEncoder(file, contract, providerFromEnv() === 'cuda' ? 'cuda' : 'cpu');
}

/** An audio encoder: one input [B, 1, 80, 16] (mel windows), one output [B, ...contract audio shape]. */
async function openAudioEncoder(file: string, contract: ModelContract, provider: 'cuda' | 'cpu'): Promise<NonNullable<LoadedModel['audioEncoder']>> {
  const ort = await loadOrt();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(await readFile(file), { executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'], ...threadPoolOptions() });
  } catch (e) {
    throw new AvatarError('invalid_input', `audio encoder ${file} cannot be loaded as an ONNX model: ${(e as Error).message.split('\n')[0]}`);
  }
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  const fits = (m: typeof input | typeof output, dims: readonly number[]) =>
    m?.isTensor && m.shape.length === dims.length + 1 && dims.every((d, i) => typeof m.shape[i + 1] !== 'number' || m.shape[i + 1] === d);
  if (session.inputNames.length !== 1 || !fits(input, [1, 80, 16])) {
    throw new AvatarError('invalid_input', `audio encoder ${file} must take one input [batch, 1, 80, 16] (Wav2Lip mel windows); it takes ${session.inputMetadata.map((m) => `"${m.name}" ${m.isTensor ? `[${m.shape.join(', ')}]` : ''}`).join(', ')}`);
  }
  if (!fits(output, contract.audioShape)) {
    throw new AvatarError('invalid_input', `audio encoder ${file} must give [batch, ${contract.audioShape.join(', ')}] for contract ${contract.name}; its first output is "${output?.name}" ${output?.isTensor ? `[${output.shape.join(', ')}]` : ''}`);
  }
  return { file, session, input: input!.name, output: output!.name };
}

/** float32 to IEEE half (round to nearest even), for fp16 models. */
export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    if (exp <= 0) out[i] = exp < -10 ? sign : sign | (((mant | 0x800000) >>> (1 - exp)) + 0x1000) >>> 13;
    else if (exp >= 31) out[i] = sign | 0x7c00;
    else out[i] = (sign | (exp << 10) | (mant >>> 13)) + ((mant >>> 12) & 1);
  }
  return out;
}

/** IEEE half to float32. */
export function fromFloat16(values: Uint16Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const h = values[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    out[i] = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}
