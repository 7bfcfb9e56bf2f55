import { kernelBytes, loadWasmKernel } from '../core/wasm-kernel.js';
import type { TensorType } from './proto-loading.js';

/** The tensor kernels (assembly/tensor-bytes.ts): 16 values per step, several times faster than the same loops in JavaScript. */
const kernels = loadWasmKernel<{
  unitFloatsToBytes(src: number, dst: number, count: number): void;
  exactUnitBytes(src: number, dst: number, count: number): number;
  bytesToUnitFloats(src: number, dst: number, count: number): void;
}>(new URL('./tensor-bytes.wasm', import.meta.url));
/** Values per pass of a conversion through the kernels' memory (at most 5 MB of it). */
const CHUNK = 1 << 20;

/**
 * Converts `values` values of `input` (`inSize` bytes each) into `output` from byte `outAt`
 * (`outSize` bytes each) by `kernel`, in passes of CHUNK values through the kernels'
 * memory (input at 0, output after it). False as soon as the kernel answers 0 for a pass.
 */
function convert(input: Uint8Array, inSize: number, output: Uint8Array, outAt: number, outSize: number, kernel: (src: number, dst: number, count: number) => number | void): boolean {
  const values = input.length / inSize;
  const memory = kernelBytes(kernels.memory, CHUNK * (inSize + outSize));
  const dst = CHUNK * inSize;
  for (let at = 0; at < values; at += CHUNK) {
    const count = Math.min(CHUNK, values - at);
    memory.set(input.subarray(at * inSize, (at + count) * inSize), 0);
    if (kernel(0, dst, count) === 0) return false;
    output.set(memory.subarray(dst, dst + count * outSize), outAt + at * outSize);
  }
  return true;
}

/**
 * A float32 (little-endian) view of received bytes: no copy when the bytes are 4-byte
 * aligned in their buffer, else one copy (protobuf may hand out unaligned slices).
 */
export function float32View(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer, 0, bytes.byteLength >> 2);
}

/** The bytes of a float32 array, without a copy. */
export function float32Bytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** Bytes per value of a tensor type. */
export function bytesPerValue(type: TensorType): number {
  return type === 'FLOAT32' ? 4 : type === 'FLOAT16' ? 2 : 1;
}

let halfTable: Float32Array | undefined;

/** Every IEEE half as float32 (256 KB, made on first use). */
function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    halfTable[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 31 ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

/** Writes the values of `bytes` (a tensor of `type`) as float32 into `out` from `offset`. */
export function decodeInto(bytes: Uint8Array, type: TensorType, out: Float32Array, offset: number): void {
  if (type === 'FLOAT32') {
    out.set(float32View(bytes), offset);
  } else if (type === 'UINT8') {
    convert(bytes, 1, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), offset * 4, 4, kernels.bytesToUnitFloats);
  } else {
    const table = halfToFloat();
    const n = bytes.length >> 1;
    for (let i = 0; i < n; i++) out[offset + i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  }
}

/**
 * A model output [n, 3, size, size] (0..1) as the bytes a caller asked for: FLOAT32 or
 * UINT8 (round(clamp(v, 0, 1) * 255)), rows firstRow..size-1 of each plane only.
 */
export function outputBytes(values: Float32Array, n: number, size: number, firstRow: number, type: 'FLOAT32' | 'UINT8'): Buffer {
  if (type === 'FLOAT32' && firstRow === 0) return float32Bytes(values);
  const plane = size * size;
  const kept = (size - firstRow) * size;
  if (type === 'FLOAT32') {
    const out = new Float32Array(n * 3 * kept);
    for (let k = 0; k < n * 3; k++) out.set(values.subarray(k * plane + firstRow * size, (k + 1) * plane), k * kept);
    return float32Bytes(out);
  }
  const out = Buffer.allocUnsafe(n * 3 * kept);
  for (let k = 0; k < n * 3; k++) {
    const rows = new Uint8Array(values.buffer, values.byteOffset + (k * plane + firstRow * size) * 4, kept * 4);
    convert(rows, 4, out, k * kept, 1, kernels.unitFloatsToBytes);
  }
  return out;
}

/**
 * A float32 tensor (little-endian bytes, any alignment) as UINT8 bytes when that loses
 * nothing: every value exactly k / 255 for a byte k (the float32 quotient), as a 0..1
 * tensor made from 8-bit pixels is. The bytes then decode (decodeInto) to the very same
 * floats, in a quarter of the bytes (written to `out` when given). Undefined as soon as one
 * value is not.
 */
export function exactUnitBytes(floatBytes: Uint8Array, out: Buffer = Buffer.allocUnsafe(floatBytes.length >> 2)): Buffer | undefined {
  const values = floatBytes.length >> 2;
  if (out.length !== values) throw new RangeError(`exactUnitBytes: ${values} values need ${values} bytes of output, got ${out.length}`);
  return convert(floatBytes.subarray(0, values * 4), 4, out, 0, 1, kernels.exactUnitBytes) ? out : undefined;
}
