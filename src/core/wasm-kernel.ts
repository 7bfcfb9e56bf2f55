import { readFileSync } from 'node:fs';

const PAGE = 65536;

/** A compiled WebAssembly kernel (see assembly/): its exports, with the memory the caller lays out. */
export type WasmKernel<T> = T & { readonly memory: WebAssembly.Memory };

/** Instantiates the kernel at `url` (a .wasm built from assembly/, no imports), synchronously: a few KB compile in well under a millisecond. */
export function loadWasmKernel<T>(url: URL): WasmKernel<T> {
  return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(url))).exports as unknown as WasmKernel<T>;
}

/**
 * A byte view of a kernel's memory, grown first to at least `bytes`. Views taken before a
 * growth are detached by it: take a new one after every call that may grow.
 */
export function kernelBytes(memory: WebAssembly.Memory, bytes: number): Uint8Array {
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  return new Uint8Array(memory.buffer);
}
