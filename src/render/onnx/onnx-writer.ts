/**
 * A minimal writer of ONNX model files (the protobuf encoding of onnx.proto's ModelProto):
 * enough for the float32 graphs the project generates for tests and benchmarks. Field
 * numbers are onnx.proto's; repeated scalars are written unpacked, which every reader takes.
 */

/** ONNX tensor element types used here. */
export const ONNX_TYPE = { float: 1, int64: 7, float16: 10 } as const;

/** An attribute value: number (int if whole and `ints`/`int` intended), number[], or a tensor. */
export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string };

/** One graph node. */
export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A constant tensor stored in the model. */
export interface OnnxInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

/** A graph input or output: name, element type and shape (strings are symbolic dimensions). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly type?: number;
  readonly shape: readonly (number | string)[];
}

/** A whole model. */
export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxInitializer[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly opset?: number;
  readonly producer?: string;
  readonly docString?: string;
}

class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private put(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      out.push(byte);
    } while (v > 0n);
    this.put(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.put(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.put(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function writeTensor(w: ProtoWriter, t: OnnxInitializer): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? ONNX_TYPE.float : ONNX_TYPE.int64);
  w.string(8, t.name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) => type.message(1, (tensor) => {
    tensor.int(1, v.type ?? ONNX_TYPE.float);
    tensor.message(2, (shape) => {
      for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
    });
  }));
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if ('int' in value) w.int(3, value.int).int(20, 2);
  else if ('float' in value) w.float(2, value.float).int(20, 1);
  else if ('ints' in value) {
    for (const v of value.ints) w.int(8, v);
    w.int(20, 7);
  } else if ('floats' in value) {
    for (const v of value.floats) w.float(7, v);
    w.int(20, 6);
  } else w.string(4, value.string).int(20, 3);
}

/** Encodes a model as the bytes of an .onnx file. */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.string(2, graph.producer ?? 'realtime-avatar');
  if (graph.docString) w.string(6, graph.docString);
  w.message(7, (g) => {
    graph.nodes.forEach((n, i) => g.message(1, (node) => {
      for (const input of n.inputs) node.string(1, input);
      for (const output of n.outputs) node.string(2, output);
      node.string(3, n.name ?? `${n.op}_${i}`);
      node.string(4, n.op);
      for (const [key, value] of Object.entries(n.attributes ?? {})) node.message(5, (a) => writeAttribute(a, key, value));
    }));
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (tensor) => writeTensor(tensor, t));
    for (const v of graph.inputs) g.message(11, (info) => writeValueInfo(info, v));
    for (const v of graph.outputs) g.message(12, (info) => writeValueInfo(info, v));
  });
  w.message(8, (opset) => opset.string(1, '').int(2, graph.opset ?? 17));
  return w.finish();
}
