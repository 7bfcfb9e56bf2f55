import { kernelBytes, loadWasmKernel } from '../core/wasm-kernel.js';

/** A polyphase filter: `phases` rows of `taps` coefficients; row p is the kernel for a fractional position p / phases. */
export interface PolyphaseBank {
  readonly phases: number;
  readonly taps: number;
  readonly coefficients: Float32Array;
  /** Input samples before the output position that the first tap reads. */
  readonly offset: number;
}

/** The filter kernel (assembly/resample.ts): eight taps per SIMD step, several times faster than the loop in JavaScript. */
const kernel = loadWasmKernel<{
  resampleWindow(window: number, bank: number, stride: number, read: number, phase: number, up: number, whole: number, frac: number, count: number, out: number): void;
}>(new URL('./resample.wasm', import.meta.url));
/** Outputs per kernel call: bounds the window and output areas of its memory to a few hundred KB. */
const CHUNK = 16384;
/** Where each bank's copy (rows padded to whole SIMD steps) lies in the kernel's memory; the window area follows the last. */
const placed = new Map<PolyphaseBank, { at: number; stride: number }>();
let banksEnd = 0;

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

function place(bank: PolyphaseBank): { at: number; stride: number } {
  const known = placed.get(bank);
  if (known) return known;
  const stride = Math.ceil(bank.taps / 8) * 8;
  const at = banksEnd;
  banksEnd = align16(at + bank.phases * stride * 4);
  const rows = new Float32Array(kernelBytes(kernel.memory, banksEnd).buffer, at, bank.phases * stride);
  // The area may have held windows before: padding taps must be 0.
  rows.fill(0);
  for (let p = 0; p < bank.phases; p++) rows.set(bank.coefficients.subarray(p * bank.taps, (p + 1) * bank.taps), p * stride);
  const placement = { at, stride };
  placed.set(bank, placement);
  return placement;
}

/**
 * Outputs `first` .. `first + count - 1` of the polyphase filter `bank` run over `pcm` at
 * an output step of `down / up` input samples (output n is centred on input n * down / up;
 * samples outside the signal are silence), written to `out` from `at`. Each output is the
 * same whichever range it is computed in: a stream's pieces join the whole without seams.
 */
export function polyphaseRange(pcm: Int16Array, bank: PolyphaseBank, up: number, down: number, first: number, count: number, out: Int16Array, at: number): void {
  const { at: bankAt, stride } = place(bank);
  const whole = Math.floor(down / up);
  const frac = down % up;
  for (let done = 0; done < count; done += CHUNK) {
    const n = Math.min(CHUNK, count - done);
    const scaled = (first + done) * down;
    const base = Math.floor(scaled / up);
    const start = base - bank.offset;
    const end = Math.floor(((first + done + n - 1) * down) / up) - bank.offset + stride;
    const windowAt = banksEnd;
    const outAt = align16(windowAt + 2 * (end - start));
    const memory = kernelBytes(kernel.memory, outAt + 2 * n);
    const window = new Int16Array(memory.buffer, windowAt, end - start);
    const from = Math.max(0, start);
    const to = Math.min(pcm.length, end);
    if (from >= to) window.fill(0);
    else {
      window.fill(0, 0, from - start);
      window.set(pcm.subarray(from, to), from - start);
      window.fill(0, to - start);
    }
    kernel.resampleWindow(windowAt, bankAt, stride, 0, scaled - base * up, up, whole, frac, n, outAt);
    out.set(new Int16Array(memory.buffer, outAt, n), at + done);
  }
}
