import { CONTRACTS, type ContractName, type ModelContract } from './contracts.js';
import { GraphBuilder } from './graph-builder.js';
import { encodeOnnxModel } from './onnx-writer.js';

/** `tiny`: a few small layers (tests); `real`: the compute of the published architecture (benchmarks). */
export type ModelSize = 'tiny' | 'real';

/** A generated model file and its figures. */
export interface GeneratedModel {
  readonly bytes: Uint8Array;
  readonly contract: ContractName;
  /** Multiply-accumulates per frame. */
  readonly macsPerFrame: number;
  readonly parameters: number;
}

/** Where the known-answer model draws its mouth, in the model's face crop (fractions of the side). */
export const KNOWN_ANSWER_MOUTH = { cx: 0.5, cy: 0.74, rx: 0.19, ry: 0.15 } as const;

/**
 * A model with the contract's exact inputs and output and random weights. Inputs have a
 * symbolic batch dimension; the output is in 0..1.
 */
export function generateModel(contractName: ContractName, size: ModelSize, seed = 1): GeneratedModel {
  const contract = CONTRACTS[contractName];
  const g = new GraphBuilder(seed);
  const visual = g.input(contract.visualInput, [6, contract.size, contract.size]);
  const audio = g.input(contract.audioInput, contract.audioShape);
  let out: string;
  if (size === 'tiny') out = tinyNet(g, contract, visual, audio);
  else if (contractName === 'wav2lip96') out = wav2lipNet(g, visual, audio);
  else out = unetNet(g, contract, visual, audio);
  g.output(out, contract.output);
  return finish(g, contract, `random weights, ${size} size, contract ${contract.name}`);
}

/**
 * The known-answer model (contract wav2lip96): returns the reference face with a dark
 * mouth whose opening is a fixed function of the audio, the mean of the first 4 of the 16
 * mel frames of its window (the frame's own 40 ms at 25 fps):
 * open = clip((mean + 4) * 0.3, 0, 1), drawn as an ellipse KNOWN_ANSWER_MOUTH.ry * open high.
 * Lip-sync analysis of its output therefore shows where the renderer put each window.
 */
export function generateKnownAnswerModel(): GeneratedModel {
  const contract = CONTRACTS.wav2lip96;
  const g = new GraphBuilder(7);
  const s = contract.size;
  const visual = g.input(contract.visualInput, [6, s, s]);
  const audio = g.input(contract.audioInput, contract.audioShape);
  const reference = g.slice(visual, 1, 3, 6);
  const level = g.reduceMean(g.slice(audio, 3, 0, 4));
  const open = g.clip(g.binary('Mul', g.binary('Add', level, g.scalar(4)), g.scalar(0.3)), 0, 1);
  const { cx, cy, rx, ry } = KNOWN_ANSWER_MOUTH;
  // Per pixel: how open the mouth must be for this pixel to lie inside it.
  const need = g.constant([1, s, s], (i) => {
    const x = (i % s) / s;
    const y = Math.floor(i / s) / s;
    const across = 1 - ((x - cx) / rx) ** 2;
    return across <= 0 ? 100 : Math.abs(y - cy) / (ry * Math.sqrt(across));
  });
  const inside = g.clip(g.binary('Mul', g.binary('Sub', open, need), g.scalar(8)), 0, 1);
  const shade = g.binary('Add', g.binary('Mul', inside, g.scalar(-0.85)), g.scalar(1));
  g.output(g.binary('Mul', reference, shade), contract.output);
  return finish(g, contract, 'known-answer model: mouth opening = clip((mean of mel frames 0-3 + 4) * 0.3, 0, 1)');
}

/**
 * An audio encoder for a contract whose audio input is not the mel: mel windows
 * [B, 1, 80, 16] in, [B, ...audio shape] out (convolutions and a dense layer, random weights).
 */
export function generateAudioEncoder(contractName: ContractName, seed = 5): GeneratedModel {
  const contract = CONTRACTS[contractName];
  const g = new GraphBuilder(seed);
  const mel = g.input('mel', [1, 80, 16]);
  const hidden = g.conv(g.conv(mel, 16, 3, 2, 1), 32, 3, 2, 1);
  const size = contract.audioShape.reduce((a, b) => a * b, 1);
  const code = g.dense(hidden, size);
  g.output(g.reshape(code, contract.audioShape), 'features');
  return finish(g, contract, `audio encoder for contract ${contract.name}, random weights`);
}

function finish(g: GraphBuilder, contract: ModelContract, doc: string): GeneratedModel {
  const parameters = g.initializers.reduce((n, t) => n + (t.data instanceof Float32Array ? t.data.length : 0), 0);
  return { bytes: encodeOnnxModel(g.graph(`avatar_${contract.name}`, doc)), contract: contract.name, macsPerFrame: g.macs, parameters };
}

/** Two convolutions on the reference half, shifted by the audio level: cheap, every input used. */
function tinyNet(g: GraphBuilder, contract: ModelContract, visual: string, audio: string): string {
  const reference = contract.halves === 'masked-first' ? g.slice(visual, 1, 3, 6) : g.slice(visual, 1, 0, 3);
  const hidden = g.conv(reference, 8, 3);
  const rgb = g.conv(hidden, 3, 3, 1, 1, false);
  const level = g.binary('Mul', g.reduceMean(audio), g.scalar(0.5));
  return g.sigmoid(g.binary('Add', rgb, level));
}

/** Wav2Lip's generator (models/wav2lip.py) with BatchNorm folded into the convolutions. */
function wav2lipNet(g: GraphBuilder, visual: string, audio: string): string {
  const skips: string[] = [];
  let x = g.conv(visual, 16, 7, 1, 3);
  skips.push(x);
  for (const [c, res] of [[32, 2], [64, 3], [128, 2], [256, 2], [512, 1]] as const) {
    x = g.conv(x, c, 3, 2, 1);
    for (let r = 0; r < res; r++) x = g.residual(x);
    skips.push(x);
  }
  x = g.conv(g.conv(x, 512, 3, 1, 0), 512, 1, 1, 0);
  skips.push(x);
  let a = g.conv(audio, 32, 3);
  a = g.residual(g.residual(a));
  a = g.conv(a, 64, 3, [3, 1], 1);
  a = g.residual(g.residual(a));
  a = g.conv(a, 128, 3, 3, 1);
  a = g.residual(g.residual(a));
  a = g.conv(a, 256, 3, [3, 2], 1);
  a = g.residual(a);
  a = g.conv(g.conv(a, 512, 3, 1, 0), 512, 1, 1, 0);
  // Decoder: each block sees the audio/face code concatenated with the matching encoder output.
  x = g.conv(a, 512, 1, 1, 0);
  x = g.concat([x, skips.pop()!]);
  x = g.residual(g.convTranspose(x, 512, 1, 0, 0));
  for (const [c, res] of [[512, 2], [384, 2], [256, 2], [128, 2], [64, 2]] as const) {
    x = g.concat([x, skips.pop()!]);
    x = g.convTranspose(x, c, 2, 1, 1);
    for (let r = 0; r < res; r++) x = g.residual(x);
  }
  x = g.concat([x, skips.pop()!]);
  x = g.conv(x, 32, 3);
  return g.sigmoid(g.conv(x, 3, 1, 1, 0, false));
}

/** A U-Net of the size of Ultralight-Digital-Human (160) or SyncTalk-2D-style models (320). */
function unetNet(g: GraphBuilder, contract: ModelContract, visual: string, audio: string): string {
  const channels = contract.size >= 320 ? [16, 32, 64, 128, 256, 512] : [16, 32, 64, 128, 256];
  const skips: string[] = [];
  let x = g.conv(visual, channels[0]!, 3);
  for (const c of channels.slice(1)) {
    skips.push(x);
    x = g.residual(g.conv(x, c, 3, 2, 1));
  }
  const code = g.dense(g.conv(audio, 32, 3, 2, 1), channels.at(-1)!);
  x = g.relu(g.binary('Add', x, code));
  for (const c of [...channels].reverse().slice(1)) {
    x = g.convTranspose(x, c, 2, 1, 1);
    x = g.residual(g.conv(g.concat([x, skips.pop()!]), c, 3));
  }
  return g.sigmoid(g.conv(x, 3, 1, 1, 0, false));
}
