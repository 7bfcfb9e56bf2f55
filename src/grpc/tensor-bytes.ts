import { kernelBytes, loadWasmKernel } from '../core/wasm-kernel.js';
import type { TensorType } from './proto-loading.js';

/** The float-to-byte kernel (assembly/unit-floats-to-bytes.ts): 16 values per step, about a sixth of the time of the same loop in JavaScript. */
const toBytes = loadWasmKernel<{ unitFloatsToBytes(src: number, dst: number, count: number): void }>(new URL('./unit-floats-to-bytes.wasm', import.meta.url));

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

/** UINT8 value v as the float v / 255, for every byte value. */
const UNIT_OF_BYTE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

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
    const n = bytes.length;
    for (let i = 0; i < n; i++) out[offset + i] = UNIT_OF_BYTE[bytes[i]!]!;
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
  // One plane at a time through the kernel's memory: floats at 0, bytes after them.
  const memory = kernelBytes(toBytes.memory, kept * 5);
  for (let k = 0; k < n * 3; k++) {
    const from = values.byteOffset + (k * plane + firstRow * size) * 4;
    memory.set(new Uint8Array(values.buffer, from, kept * 4), 0);
    toBytes.unitFloatsToBytes(0, kept * 4, kept);
    out.set(memory.subarray(kept * 4, kept * 5), k * kept);
  }
  return out;
}
