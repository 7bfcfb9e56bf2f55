/** Names of the neural model contracts (see DESIGN.md: Neural model contracts). */
export const CONTRACT_NAMES = ['wav2lip96', 'ultralight160', 'seed320'] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

/** Which part of the face crop a contract blanks in the masked half. */
export type FaceMask = 'lower-half' | 'box';

/**
 * A model contract: the tensors a lip-sync model takes and gives. Visual input
 * [B, 6, size, size] (two BGR or RGB halves, 0..1), audio input [B, ...audioShape], output
 * [B, 3, size, size] in 0..1 in the same channel order.
 */
export interface ModelContract {
  readonly name: ContractName;
  /** Side of the square face crop the model sees. */
  readonly size: number;
  readonly visualInput: string;
  readonly audioInput: string;
  readonly output: string;
  /** Per-frame audio tensor shape (without the batch). */
  readonly audioShape: readonly number[];
  /** Whether the masked half or the reference half comes first in the 6 channels. */
  readonly halves: 'masked-first' | 'reference-first';
  readonly channelOrder: 'bgr' | 'rgb';
  readonly mask: FaceMask;
  /** The audio input is the Wav2Lip mel window itself (else mel windows are mapped onto audioShape). */
  readonly audioIsMel: boolean;
  /** Default model input names, then names other exports use, tried in order. */
  readonly visualAliases: readonly string[];
  readonly audioAliases: readonly string[];
}

const COMMON_VISUAL = ['target', 'face', 'img', 'image', 'visual', 'input', 'x'];
const COMMON_AUDIO = ['source', 'audio', 'mel', 'audio_feat', 'audio_features', 'a'];

/** The contracts, by name. */
export const CONTRACTS: Readonly<Record<ContractName, ModelContract>> = {
  // Wav2Lip and FaceFusion's wav2lip_96 / wav2lip_gan_96 ('target' face, 'source' mel).
  wav2lip96: {
    name: 'wav2lip96', size: 96, visualInput: 'target', audioInput: 'source', output: 'output', audioShape: [1, 80, 16],
    halves: 'masked-first', channelOrder: 'bgr', mask: 'lower-half', audioIsMel: true, visualAliases: COMMON_VISUAL, audioAliases: COMMON_AUDIO,
  },
  // Ultralight-Digital-Human: reference then masked, 160 crop, hubert features [16, 32, 32].
  ultralight160: {
    name: 'ultralight160', size: 160, visualInput: 'input', audioInput: 'audio', output: 'output', audioShape: [16, 32, 32],
    halves: 'reference-first', channelOrder: 'bgr', mask: 'box', audioIsMel: false, visualAliases: COMMON_VISUAL, audioAliases: COMMON_AUDIO,
  },
  // Seed 002's gRPC contract: 6x320x320 visual, 32x16x16 audio features.
  seed320: {
    name: 'seed320', size: 320, visualInput: 'input', audioInput: 'audio', output: 'output', audioShape: [32, 16, 16],
    halves: 'reference-first', channelOrder: 'bgr', mask: 'box', audioIsMel: false, visualAliases: COMMON_VISUAL, audioAliases: COMMON_AUDIO,
  },
};

/** Looks a contract up; throws with the known names. */
export function contractByName(name: string): ModelContract {
  const c = (CONTRACTS as Record<string, ModelContract>)[name];
  if (!c) throw new Error(`unknown model contract "${name}" (known: ${CONTRACT_NAMES.join(', ')})`);
  return c;
}

/** What an avatar manifest may say about its model beyond the contract's defaults. */
export interface ModelDeclaration {
  /** Model file, relative to the avatar folder. */
  readonly path: string;
  readonly contract: string;
  readonly inputs?: { readonly visual?: string; readonly audio?: string };
  readonly output?: string;
  readonly channelOrder?: 'bgr' | 'rgb';
  readonly cropSize?: number;
  readonly mask?: FaceMask;
  readonly halves?: 'masked-first' | 'reference-first';
  /** Feed float16 tensors (else the model's declared input type decides). */
  readonly fp16?: boolean;
  /**
   * Audio encoder model (path inside the avatar folder) for contracts whose audio input is
   * not the mel: takes mel windows [B, 1, 80, 16], gives [B, ...audio shape].
   */
  readonly audioEncoder?: string;
}

/** The contract with a manifest's overrides applied. */
export function resolveContract(declaration: ModelDeclaration): ModelContract & { readonly explicitNames: boolean; readonly fp16?: boolean } {
  const base = contractByName(declaration.contract);
  return {
    ...base,
    size: declaration.cropSize ?? base.size,
    visualInput: declaration.inputs?.visual ?? base.visualInput,
    audioInput: declaration.inputs?.audio ?? base.audioInput,
    output: declaration.output ?? base.output,
    channelOrder: declaration.channelOrder ?? base.channelOrder,
    mask: declaration.mask ?? base.mask,
    halves: declaration.halves ?? base.halves,
    explicitNames: Boolean(declaration.inputs?.visual || declaration.inputs?.audio),
    ...(declaration.fp16 !== undefined ? { fp16: declaration.fp16 } : {}),
  };
}
