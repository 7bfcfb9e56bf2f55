import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AvatarError } from '../core/errors.js';
import { CONTRACT_NAMES, type ContractName } from '../render/onnx/contracts.js';
import { generateAudioEncoder, generateKnownAnswerModel, generateModel } from '../render/onnx/model-init.js';

/**
 * `avatar model init --contract NAME -o FILE [--size tiny|real] [--known-answer]`: writes
 * a model with the contract's exact inputs and output and random weights (or the
 * known-answer model), for tests, benchmarks and trying the pipeline without weights.
 */
export async function runModel(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'init') throw new AvatarError('invalid_input', `unknown model command "${sub ?? ''}" (try: avatar model init --contract wav2lip96 -o model.onnx)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      contract: { type: 'string' },
      output: { type: 'string', short: 'o' },
      size: { type: 'string', default: 'tiny' },
      seed: { type: 'string', default: '1' },
      'known-answer': { type: 'boolean', default: false },
      'audio-encoder': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  const contract = values.contract;
  if (!contract || !(CONTRACT_NAMES as readonly string[]).includes(contract)) {
    throw new AvatarError('invalid_input', `--contract must be one of ${CONTRACT_NAMES.join(', ')}${contract ? `, got "${contract}"` : ''}`);
  }
  if (!values.output) throw new AvatarError('invalid_input', 'give the model file to write with -o FILE');
  if (values.size !== 'tiny' && values.size !== 'real') throw new AvatarError('invalid_input', `--size must be tiny or real, got "${values.size}"`);
  if (values['known-answer'] && contract !== 'wav2lip96') throw new AvatarError('invalid_input', 'the known-answer model exists for contract wav2lip96');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 1) throw new AvatarError('invalid_input', `--seed must be a positive whole number, got "${values.seed}"`);
  if (values['audio-encoder'] && contract === 'wav2lip96') throw new AvatarError('invalid_input', 'wav2lip96 takes the mel itself: no audio encoder');
  const model = values['known-answer'] ? generateKnownAnswerModel()
    : values['audio-encoder'] ? generateAudioEncoder(contract as ContractName, seed)
    : generateModel(contract as ContractName, values.size, seed);
  try {
    await writeFile(values.output, model.bytes);
  } catch (e) {
    throw new AvatarError('output_unwritable', `cannot write ${values.output}: ${(e as Error).message}`);
  }
  if (!values.quiet) {
    process.stderr.write(`wrote ${values.output}: contract ${contract}, ${values['known-answer'] ? 'known-answer model' : values['audio-encoder'] ? 'audio encoder' : `${values.size} model`}, ${(model.parameters / 1e6).toFixed(2)} M parameters, ${(model.macsPerFrame / 1e9).toFixed(3)} GMAC per frame\n`);
  }
  return 0;
}
