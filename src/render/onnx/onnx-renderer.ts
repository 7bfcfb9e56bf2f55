import type { FrameSource } from '../avatar-input.js';
import { ColourMatch } from '../../compose/mouth-blend.js';
import { MelConditioning } from '../../audio/mel-conditioning.js';
import { WAV2LIP_MEL } from '../../audio/mel.js';
import { AvatarError } from '../../core/errors.js';
import type { VideoFrame } from '../../core/frame.js';
import type { MouthFrame } from '../../visemes/mouth-params.js';
import { FramePool, pingPong } from '../frame-pool.js';
import type { AudioConditioning, Renderer } from '../renderer.js';
import { melToAudioShape, writeVisualInput, type SquareCrop } from './face-crop.js';
import { fromFloat16, loadOrt, toFloat16, type LoadedModel } from './model-session.js';
import { PASTE_ELLIPSE, pasteBack } from './paste-back.js';

/** Time spent per stage, ms, summed over all frames (for benchmarks). */
export interface OnnxRenderTimes {
  prepareMs: number;
  inferMs: number;
  pasteMs: number;
  frames: number;
  batches: number;
}

const SILENT_MEL = new Float32Array(WAV2LIP_MEL.bands * WAV2LIP_MEL.windowFrames).fill(-WAV2LIP_MEL.maxAbs);

/**
 * The `onnx` renderer: a neural lip-sync model under a declared contract. Each frame's
 * face is cropped from the avatar's background frame (crop rects), fed with the frame's
 * audio window (`frame.audio`, from createAudioConditioning; silence when absent), and the
 * model's face is pasted back into the frame over a feathered lower-face ellipse with
 * colour matching. Frames given to plan() are inferred in batches of up to `maxBatch` as
 * their audio allows; render() then only composites. Without plan() (realtime), each
 * render() infers its own frame.
 */
export class OnnxRenderer implements Renderer {
  readonly name = 'onnx';
  readonly mouthRegion: readonly [number, number, number, number];
  readonly times: OnnxRenderTimes = { prepareMs: 0, inferMs: 0, pasteMs: 0, frames: 0, batches: 0 };
  private readonly pool: FramePool;
  private readonly colourMatch = new ColourMatch();
  /** Planned frames not yet inferred, by index. */
  private readonly planned = new Map<number, MouthFrame>();
  /** Inferred model outputs waiting for their render() call, by frame index. */
  private readonly results = new Map<number, Promise<Float32Array>>();
  private readonly batchLimit: number;

  constructor(
    private readonly frames: FrameSource,
    private readonly crops: readonly SquareCrop[],
    readonly model: LoadedModel,
    maxBatch: number,
  ) {
    this.pool = new FramePool(frames.width, frames.height);
    this.batchLimit = Math.max(1, Math.min(maxBatch, model.maxBatch));
    const c = crops[0]!;
    const even = (v: number) => Math.max(0, Math.round(v / 2) * 2);
    const w = Math.min(frames.width, even(c.side * PASTE_ELLIPSE.rx * 1.6));
    const h = Math.min(frames.height, even(c.side * PASTE_ELLIPSE.ry * 1.3));
    this.mouthRegion = [
      Math.min(frames.width - w, even(c.x + c.side * PASTE_ELLIPSE.cx - w / 2)),
      Math.min(frames.height - h, even(c.y + c.side * (PASTE_ELLIPSE.cy + 0.02) - h / 2)),
      w, h,
    ];
  }

  get width(): number {
    return this.frames.width;
  }

  get height(): number {
    return this.frames.height;
  }

  /** The execution provider inference runs on. */
  get executionProvider(): string {
    return this.model.provider;
  }

  createAudioConditioning(fps: number): AudioConditioning {
    return new MelConditioning(fps);
  }

  plan(frames: readonly MouthFrame[]): void {
    for (const f of frames) if (!this.results.has(f.index)) this.planned.set(f.index, f);
    this.pump(frames[0]?.index ?? 0);
  }

  async render(frame: MouthFrame): Promise<VideoFrame> {
    for (const index of this.planned.keys()) if (index < frame.index) this.planned.delete(index);
    if (!this.results.has(frame.index)) {
      if (this.planned.has(frame.index)) this.pump(frame.index);
      else this.inferBatch([frame]);
    }
    const output = await this.results.get(frame.index)!;
    this.results.delete(frame.index);
    this.pump(frame.index + 1);
    const background = pingPong(frame.index, this.frames.frameCount);
    const bg = await this.frames.frame(background);
    void this.frames.frame(pingPong(frame.index + 1, this.frames.frameCount)).catch(() => undefined);
    const t0 = performance.now();
    const { data, release } = this.pool.take();
    data.set(bg);
    pasteBack(output, 0, this.model.contract, this.crops[background]!, data, this.width, this.height, this.colourMatch);
    this.times.pasteMs += performance.now() - t0;
    this.times.frames++;
    return { width: this.width, height: this.height, data, ptsMs: frame.ptsMs, release };
  }

  /**
   * Starts inference of planned frames from `from` on, in batches, while fewer than two
   * batches of results wait for their render() calls (bounded memory for long files).
   */
  private pump(from: number): void {
    const ahead = [...this.planned.values()].filter((f) => f.index >= from).sort((a, b) => a.index - b.index);
    while (ahead.length > 0 && this.results.size < 2 * this.batchLimit) this.inferBatch(ahead.splice(0, this.batchLimit));
  }

  /** Queues inference of frames as one batch; each frame's result is a slice of the output. */
  private inferBatch(batch: readonly MouthFrame[]): void {
    for (const f of batch) this.planned.delete(f.index);
    const all = this.run(batch);
    all.catch(() => undefined);
    const size = 3 * this.model.contract.size ** 2;
    batch.forEach((f, i) => this.results.set(f.index, all.then((out) => out.subarray(i * size, (i + 1) * size))));
  }

  /** Batches run one after another: a session is fed in frame order and never overcommitted. */
  private queue: Promise<unknown> = Promise.resolve();

  private run(batch: readonly MouthFrame[]): Promise<Float32Array> {
    const next = this.queue.then(() => this.infer(batch));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async infer(batch: readonly MouthFrame[]): Promise<Float32Array> {
    const { contract, session } = this.model;
    const ort = await loadOrt();
    const s = contract.size;
    const n = batch.length;
    const backgrounds = batch.map((f) => pingPong(f.index, this.frames.frameCount));
    const pictures = await Promise.all(backgrounds.map((b) => this.frames.frame(b)));
    const t0 = performance.now();
    const visual = new Float32Array(n * 6 * s * s);
    const audioSize = contract.audioShape.reduce((a, b) => a * b, 1);
    const audio = new Float32Array(n * audioSize);
    const encoder = this.model.audioEncoder;
    const melSize = SILENT_MEL.length;
    const mels = encoder ? new Float32Array(n * melSize) : undefined;
    batch.forEach((f, i) => {
      writeVisualInput(pictures[i]!, this.width, this.height, this.crops[backgrounds[i]!]!, contract, visual, i * 6 * s * s);
      const mel = f.audio ?? SILENT_MEL;
      if (mels) mels.set(mel.subarray(0, melSize), i * melSize);
      else if (contract.audioIsMel) audio.set(mel.subarray(0, audioSize), i * audioSize);
      else melToAudioShape(mel, contract.audioShape, audio, i * audioSize);
    });
    if (encoder && mels) {
      const encoded = await encoder.session.run({ [encoder.input]: new ort.Tensor('float32', mels, [n, 1, 80, 16]) });
      audio.set(encoded[encoder.output]!.data as Float32Array);
    }
    const tensor = (data: Float32Array, dims: number[]) => (this.model.fp16 ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims));
    const t1 = performance.now();
    let out: Awaited<ReturnType<typeof session.run>>;
    try {
      out = await session.run({
        [this.model.visualInput]: tensor(visual, [n, 6, s, s]),
        [this.model.audioInput]: tensor(audio, [n, ...contract.audioShape]),
      });
    } catch (e) {
      throw new AvatarError('invalid_input', `model ${this.model.file} failed on a batch of ${n} frames: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    const t2 = performance.now();
    this.times.prepareMs += t1 - t0;
    this.times.inferMs += t2 - t1;
    this.times.batches++;
    const result = out[this.model.output]!;
    const data = result.data as Float32Array | Uint16Array;
    return data instanceof Uint16Array ? fromFloat16(data) : data;
  }
}
