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
