import { kernelBytes, loadWasmKernel } from '../core/wasm-kernel.js';
import type { PastePlan } from './rgb-paste.js';

/**
 * The paste kernels (assembly/rgb-paste.ts, compiled to WebAssembly with SIMD by the
 * build): eight pixels per step, about a seventh of the time of the same integer
 * arithmetic in JavaScript, where every typed-array access is bounds-checked.
 */
interface PasteKernel {
  paste(tables: number, w8: number, h: number, red: number, green: number, blue: number, box: number, simd: boolean): void;
}

const kernel = loadWasmKernel<PasteKernel>(new URL('./rgb-paste.wasm', import.meta.url));
/** Blend weight 1 in the kernels' Q15. */
const FULL = 32767;
/** A swizzle index that reads as 0: the high byte of each u16 lane. */
const ZERO_BYTE = 0x80;

/** A plan's tables as the kernels read them (layout in assembly/rgb-paste.ts), made once per plan. */
interface KernelTables {
  readonly bytes: Uint8Array;
  /** Width rounded up to whole groups of 8 pixels. */
  readonly w8: number;
  /** Model rows the plan samples: first, and how many. */
  readonly firstModelRow: number;
  readonly modelRows: number;
  /** Whether every group of 8 columns samples within 16 bytes (the SIMD kernel's reach). */
  readonly simd: boolean;
}

const tablesByPlan = new WeakMap<PastePlan, KernelTables>();

/** The first model row a plan samples. */
export function firstRowOf(plan: PastePlan): number {
  return plan.ys.lo[0]!;
}

let scalarOnly = false;

/** Whether a plan's pastes take the eight-pixel kernel (every group of 8 columns samples within 16 bytes). */
export function pasteTakesSimd(plan: PastePlan): boolean {
  return tablesOf(plan).simd && !scalarOnly;
}

/** Whether pastes use the eight-pixel kernel where a plan allows it (default true; tests compare both). */
export function usePasteSimd(on: boolean): void {
  scalarOnly = !on;
}

function tablesOf(plan: PastePlan): KernelTables {
  const known = tablesByPlan.get(plan);
  if (known) return known;
  const { w, h, size, xs, ys } = plan;
  const w8 = Math.ceil(w / 8) * 8;
  const groups = w8 / 8;
  const q8 = (v: number) => Math.round(v * 256);
  const head = 3 * w8 + groups + 12 * groups + 5 * h;
  const buffer = new ArrayBuffer(head * 4 + w8 * h * 2);
  const ints = new Int32Array(buffer, 0, head);
  const masks = new Uint8Array(buffer, (3 * w8 + groups) * 4, 32 * groups);
  const groupFx = new Uint16Array(buffer, (3 * w8 + 9 * groups) * 4, 8 * groups);
  const weight = new Uint16Array(buffer, head * 4, w8 * h);
  const column = (i: number) => Math.min(i, w - 1);
  for (let i = 0; i < w8; i++) {
    ints[i] = xs.lo[column(i)]!;
    ints[w8 + i] = xs.hi[column(i)]!;
    ints[2 * w8 + i] = i < w ? q8(xs.f[i]!) : 0;
  }
  let simd = true;
  for (let g = 0; g < groups; g++) {
    const base = ints[8 * g]!;
    ints[3 * w8 + g] = base;
    for (let k = 0; k < 8; k++) {
      const i = 8 * g + k;
      masks[16 * g + 2 * k] = ints[i]! - base;
      masks[16 * g + 2 * k + 1] = ZERO_BYTE;
      masks[16 * (groups + g) + 2 * k] = ints[w8 + i]! - base;
      masks[16 * (groups + g) + 2 * k + 1] = ZERO_BYTE;
      groupFx[8 * g + k] = ints[2 * w8 + i]!;
      if (ints[w8 + i]! - base > 15) simd = false;
    }
  }
  const firstModelRow = firstRowOf(plan);
  let lastModelRow = firstModelRow;
  const rows = 3 * w8 + 13 * groups;
  for (let j = 0; j < h; j++) {
    ints[rows + j] = (ys.lo[j]! - firstModelRow) * size;
    ints[rows + h + j] = (ys.hi[j]! - firstModelRow) * size;
    ints[rows + 2 * h + j] = q8(ys.f[j]!);
    lastModelRow = Math.max(lastModelRow, ys.hi[j]!);
    let from = w;
    let to = 0;
    for (let i = 0; i < w; i++) {
      const t = Math.round(plan.weight[j * w + i]! * FULL);
      weight[j * w8 + i] = t;
      if (t === 0) continue;
      if (i < from) from = i;
      to = i + 1;
    }
    ints[rows + 3 * h + j] = from;
    ints[rows + 4 * h + j] = Math.max(from, to);
  }
  const tables = { bytes: new Uint8Array(buffer), w8, firstModelRow, modelRows: lastModelRow - firstModelRow + 1, simd };
  tablesByPlan.set(plan, tables);
  return tables;
}

/** Where a model output's planes lie in its buffer: rows firstRow..size-1 of each, planeStride values apart. */
export interface OutputRows {
  readonly firstRow: number;
  readonly planeStride: number;
}

/**
 * pasteIntoRgb for a UINT8 model output (3 planes at `offset`, holding rows
 * `rows.firstRow`.. of size x size) in integer arithmetic: the same bilinear sampling,
 * colour match (the mean over every fourth pixel of every fourth row of the feather ring)
 * and feathered blend, with sampling weights in 1/256 and blend weights in 1/32768 (within
 * three levels of the float version). The plan must not sample above `rows.firstRow` (see
 * firstRowOf). The sampled rows and the plan's box of the frame are copied into the
 * kernel's memory, and the box back.
 */
export function pasteBytesIntoRgb(output: Uint8Array, offset: number, rows: OutputRows, order: 'bgr' | 'rgb', plan: PastePlan, frame: Uint8Array, width: number): void {
  const { x0, y0, w, h, size } = plan;
  const tables = tablesOf(plan);
  const planeBytes = tables.modelRows * size;
  const boxRow = w * 3;
  const boxStride = tables.w8 * 3;
  const planesAt = align(tables.bytes.length);
  // 16 readable bytes past the last plane: a group's load reads a whole vector.
  const boxAt = align(planesAt + 3 * planeBytes + 16);
  const memory = kernelBytes(kernel.memory, boxAt + h * boxStride);
  memory.set(tables.bytes, 0);
  const start = offset + (tables.firstModelRow - rows.firstRow) * size;
  for (let k = 0; k < 3; k++) {
    const from = start + k * rows.planeStride;
    memory.set(output.subarray(from, from + planeBytes), planesAt + k * planeBytes);
  }
  for (let j = 0; j < h; j++) {
    const p = ((y0 + j) * width + x0) * 3;
    memory.set(frame.subarray(p, p + boxRow), boxAt + j * boxStride);
  }
  const [red, green, blue] = (order === 'bgr' ? [2, 1, 0] : [0, 1, 2]).map((k) => planesAt + k * planeBytes) as [number, number, number];
  kernel.paste(0, tables.w8, h, red, green, blue, boxAt, pasteTakesSimd(plan));
  for (let j = 0; j < h; j++) {
    const p = ((y0 + j) * width + x0) * 3;
    frame.set(memory.subarray(boxAt + j * boxStride, boxAt + j * boxStride + boxRow), p);
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}
