import type { AudioConditioning } from '../render/renderer.js';
import { melFrame, melFrameCount, melWindow, melWindowStart, reflectReader, WAV2LIP_MEL } from './mel.js';
import { StreamingResampler } from './stream-resample.js';

const { hop: HOP, nFft: N_FFT, bands: BANDS, windowFrames: WINDOW } = WAV2LIP_MEL;

/**
 * Wav2Lip mel windows per video frame, computed as speech arrives: audio is resampled to
 * 16 kHz, pre-emphasised and turned into mel frames once the samples under each frame's
 * STFT window are in (no right padding needed); a video frame's [1, 80, 16] window is
 * ready when its 16 mel frames are. After finish() the tail is reflect-padded as the
 * whole-signal computation does, and windows past the end take the last 16 frames, so the
 * streamed windows equal the offline ones exactly.
 */
export class MelConditioning implements AudioConditioning {
  private resampler: StreamingResampler | undefined;
  private samples = new Float64Array(16000);
  private length = 0;
  private lastRaw = 0;
  private readonly mel: Float64Array[] = [];
  private finished = false;

  constructor(readonly fps: number) {
    if (!(fps > 0)) throw new RangeError(`fps must be positive, got ${fps}`);
  }

  push(pcm: Int16Array, sampleRate: number): void {
    if (this.finished) throw new Error('audio pushed after finish()');
    this.resampler ??= new StreamingResampler(sampleRate, WAV2LIP_MEL.sampleRate);
    if (sampleRate !== this.resampler.fromRate) throw new Error(`speech changed sample rate (${this.resampler.fromRate} then ${sampleRate} Hz)`);
    this.resampler.push(pcm);
    this.append(this.resampler.take());
    // Frames whose STFT window lies inside the samples so far.
    while (this.mel.length * HOP + N_FFT / 2 < this.length) this.computeFrame(this.mel.length, false);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.resampler) {
      this.resampler.finish();
      this.append(this.resampler.take());
    }
    if (this.length === 0) this.append(new Float64Array(1));
    const total = melFrameCount(this.length);
    for (let f = this.mel.length; f < total; f++) this.computeFrame(f, true);
  }

  features(index: number): Float32Array | undefined {
    if (index < 0) return undefined;
    if (!this.finished && melWindowStart(index, this.fps) + WINDOW > this.mel.length) return undefined;
    return melWindow(this.mel, index, this.fps);
  }

  /** Mel frames computed so far, [frames][80]. */
  get melFrames(): readonly Float64Array[] {
    return this.mel;
  }

  private append(x: Float64Array): void {
    if (this.length + x.length > this.samples.length) {
      const grown = new Float64Array(Math.max(this.samples.length * 2, this.length + x.length));
      grown.set(this.samples.subarray(0, this.length));
      this.samples = grown;
    }
    // Pre-emphasis carries the previous raw sample across pushes.
    for (let i = 0; i < x.length; i++) {
      this.samples[this.length + i] = x[i]! - WAV2LIP_MEL.preemphasis * this.lastRaw;
      this.lastRaw = x[i]!;
    }
    this.length += x.length;
  }

  private computeFrame(frame: number, atEnd: boolean): void {
    const read = reflectReader(this.samples, this.length);
    const row = new Float64Array(BANDS);
    melFrame(atEnd ? read : (i) => (i < 0 ? read(i) : this.samples[i]!), frame, row);
    this.mel.push(row);
  }
}

/**
 * The audio features a contract's model receives for every frame of a whole recording:
 * `frames` windows, each [1, 80, 16], from PCM at any rate.
 */
export function melWindowsOf(pcm: Int16Array, sampleRate: number, fps: number, frames: number): Float32Array[] {
  const conditioning = new MelConditioning(fps);
  conditioning.push(pcm, sampleRate);
  conditioning.finish();
  return Array.from({ length: frames }, (_, i) => conditioning.features(i)!);
}
