import type { AttributeValue, OnnxGraph, OnnxInitializer, OnnxNode, OnnxValueInfo } from './onnx-writer.js';

/** Shape of an activation without the batch: [channels, height, width] or any rank. */
type Shape = readonly number[];

/**
 * Builds convolutional ONNX graphs with random weights (He-uniform, seeded), tracking
 * activation shapes so that it can count multiply-accumulates per frame.
 */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  /** Multiply-accumulates per batch item. */
  macs = 0;
  private readonly shapes = new Map<string, Shape>();
  private counter = 0;
  private seed: number;

  constructor(seed = 1) {
    this.seed = seed >>> 0 || 1;
  }

  input(name: string, shape: Shape): string {
    this.inputs.push({ name, shape: ['batch', ...shape] });
    this.shapes.set(name, shape);
    return name;
  }

  output(value: string, name: string): void {
    this.node('Identity', [value], {}, this.shape(value), name);
    this.outputs.push({ name, shape: ['batch', ...this.shape(name)] });
  }

  shape(value: string): Shape {
    const s = this.shapes.get(value);
    if (!s) throw new Error(`no shape for ${value}`);
    return s;
  }

  /** A constant float tensor. */
  constant(dims: readonly number[], data: Float32Array | ((i: number) => number)): string {
    const name = `const_${this.counter++}`;
    const size = dims.reduce((a, b) => a * b, 1);
    this.initializers.push({ name, dims, data: data instanceof Float32Array ? data : Float32Array.from({ length: size }, (_, i) => data(i)) });
    return name;
  }

  /** A constant int64 tensor (shapes, slice bounds, axes). */
  ints(values: readonly number[]): string {
    const name = `ints_${this.counter++}`;
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
    return name;
  }

  /** Conv2d with bias (a BatchNorm folded in), optional ReLU. */
  conv(x: string, cout: number, kernel: number, stride: number | readonly [number, number] = 1, pad = Math.floor(kernel / 2), relu = true): string {
    const [cin, h, w] = this.shape(x) as [number, number, number];
    const [sh, sw] = typeof stride === 'number' ? [stride, stride] : stride;
    const oh = Math.floor((h + 2 * pad - kernel) / sh) + 1;
    const ow = Math.floor((w + 2 * pad - kernel) / sw) + 1;
    const weight = this.random([cout, cin, kernel, kernel], cin * kernel * kernel);
    const bias = this.constant([cout], () => 0);
    this.macs += oh * ow * cout * cin * kernel * kernel;
    const y = this.node('Conv', [x, weight, bias], { kernel_shape: { ints: [kernel, kernel] }, strides: { ints: [sh, sw] }, pads: { ints: [pad, pad, pad, pad] } }, [cout, oh, ow]);
    return relu ? this.relu(y) : y;
  }

  /** ConvTranspose2d (kernel 3) with bias and ReLU: stride 2 doubles the size, stride 1 with pad 0 grows it by 2. */
  convTranspose(x: string, cout: number, stride: 1 | 2, pad: number, outputPadding: number): string {
    const [cin, h, w] = this.shape(x) as [number, number, number];
    const k = 3;
    const oh = (h - 1) * stride - 2 * pad + k + outputPadding;
    const ow = (w - 1) * stride - 2 * pad + k + outputPadding;
    const weight = this.random([cin, cout, k, k], cin * k * k);
    const bias = this.constant([cout], () => 0);
    this.macs += h * w * cin * cout * k * k;
    const y = this.node('ConvTranspose', [x, weight, bias], {
      kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, pads: { ints: [pad, pad, pad, pad] }, output_padding: { ints: [outputPadding, outputPadding] },
    }, [cout, oh, ow]);
    return this.relu(y);
  }

  /** Wav2Lip's residual conv: relu(conv(x) + x). */
  residual(x: string): string {
    const c = this.shape(x)[0]!;
    const y = this.conv(x, c, 3, 1, 1, false);
    return this.relu(this.node('Add', [y, x], {}, this.shape(x)));
  }

  relu(x: string): string {
    return this.node('Relu', [x], {}, this.shape(x));
  }

  sigmoid(x: string): string {
    return this.node('Sigmoid', [x], {}, this.shape(x));
  }

  concat(values: readonly string[]): string {
    const shapes = values.map((v) => this.shape(v));
    const channels = shapes.reduce((n, s) => n + s[0]!, 0);
    return this.node('Concat', values, { axis: { int: 1 } }, [channels, ...shapes[0]!.slice(1)]);
  }

  /** Elementwise op with numpy broadcasting; the result has the larger shape. */
  binary(op: 'Add' | 'Mul' | 'Sub', a: string, b: string): string {
    const sa = this.shapes.get(a) ?? [];
    const sb = this.shapes.get(b) ?? [];
    const rank = Math.max(sa.length, sb.length);
    const pad = (s: Shape) => [...Array<number>(rank - s.length).fill(1), ...s];
    const shape = pad(sa).map((d, i) => Math.max(d, pad(sb)[i]!));
    return this.node(op, [a, b], {}, shape);
  }

  /** A scalar constant broadcast against per-item tensors. */
  scalar(value: number): string {
    const name = this.constant([], () => value);
    this.shapes.set(name, []);
    return name;
  }

  /** Slice along one axis (1-based on the per-item shape: axis 1 is channels). */
  slice(x: string, axis: number, start: number, end: number): string {
    const shape = [...this.shape(x)];
    shape[axis - 1] = end - start;
    return this.node('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis])], {}, shape);
  }

  reduceMean(x: string): string {
    const rank = this.shape(x).length;
    return this.node('ReduceMean', [x], { axes: { ints: Array.from({ length: rank }, (_, i) => i + 1) }, keepdims: { int: 1 } }, Array<number>(rank).fill(1));
  }

  clip(x: string, min: number, max: number): string {
    return this.node('Clip', [x, this.scalar(min), this.scalar(max)], {}, this.shape(x));
  }

  /** Flattens to [B, n] and applies a dense layer to [B, cout], reshaped to [B, cout, 1, 1]. */
  dense(x: string, cout: number): string {
    const n = this.shape(x).reduce((a, b) => a * b, 1);
    const flat = this.node('Flatten', [x], { axis: { int: 1 } }, [n]);
    const weight = this.random([n, cout], n);
    const bias = this.constant([cout], () => 0);
    this.macs += n * cout;
    const y = this.node('Gemm', [flat, weight, bias], {}, [cout]);
    return this.node('Reshape', [y, this.ints([-1, cout, 1, 1])], {}, [cout, 1, 1]);
  }

  /** Reshapes per-item data to `shape` (batch kept). */
  reshape(x: string, shape: readonly number[]): string {
    return this.node('Reshape', [x, this.ints([-1, ...shape])], {}, shape);
  }

  graph(name: string, docString: string): OnnxGraph {
    return { name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs, opset: 17, docString };
  }

  private node(op: string, inputs: readonly string[], attributes: Record<string, AttributeValue>, shape: Shape, output = `t${this.counter++}`): string {
    this.nodes.push({ op, inputs, outputs: [output], attributes });
    this.shapes.set(output, shape);
    return output;
  }

  private random(dims: readonly number[], fanIn: number): string {
    const bound = Math.sqrt(6 / fanIn) * 0.5;
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    let s = this.seed;
    for (let i = 0; i < size; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      data[i] = ((s >>> 0) / 4294967296 * 2 - 1) * bound;
    }
    this.seed = s >>> 0 || 1;
    return this.constant(dims, data);
  }
}
