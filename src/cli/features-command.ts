import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { decodeAudio } from '../audio/decode-audio.js';
import { melWindowsOf } from '../audio/mel-conditioning.js';
import { AvatarError } from '../core/errors.js';
import { framesForDuration } from '../visemes/mouth-params.js';
import { writeFileAtomic } from '../say.js';
import { CONTRACT_NAMES, contractByName } from '../render/onnx/contracts.js';
import { melToAudioShape } from '../render/onnx/face-crop.js';
import { encodeNpy } from './npy.js';

/**
 * `avatar features --contract NAME AUDIO -o FILE.npy [--fps N]`: the audio tensor a model
 * of that contract receives for every video frame of AUDIO, [frames, ...audio shape],
 * float32, exactly as the onnx renderer builds it.
 */
export async function runFeatures(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      contract: { type: 'string' },
      output: { type: 'string', short: 'o' },
      fps: { type: 'string', default: '25' },
      'audio-encoder': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (positionals.length !== 1) throw new AvatarError('invalid_input', 'give one audio file (see: avatar --help)');
  if (!values.contract) throw new AvatarError('invalid_input', `--contract is required (${CONTRACT_NAMES.join(', ')})`);
  let contract;
  try {
    contract = contractByName(values.contract);
  } catch (e) {
    throw new AvatarError('invalid_input', (e as Error).message);
  }
  if (!values.output) throw new AvatarError('invalid_input', 'give the .npy file to write with -o FILE');
  const fps = Number(values.fps);
  if (!(fps > 0 && fps <= 120)) throw new AvatarError('invalid_input', `--fps must be a frame rate from 1 to 120, got "${values.fps}"`);
  const path = positionals[0]!;
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new AvatarError('invalid_input', `cannot read audio ${path}: ${e.code ?? e.message}`);
  });
  const audio = await decodeAudio(bytes);
  const frames = framesForDuration((audio.pcm.length * 1000) / audio.sampleRate, fps);
  const windows = melWindowsOf(audio.pcm, audio.sampleRate, fps, frames);
  const size = contract.audioShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(frames * size);
  if (values['audio-encoder']) {
    // The contract's encoder, exactly as the renderer runs it (batches of mel windows).
    const { loadEncoderOnly } = await import('../render/onnx/model-session.js');
    const encoder = await loadEncoderOnly(values['audio-encoder'], contract);
    const ort = await (await import('../render/onnx/model-session.js')).loadOrt();
    for (let i = 0; i < frames; i += 64) {
      const batch = windows.slice(i, i + 64);
      const mels = new Float32Array(batch.length * 1280);
      batch.forEach((w, k) => mels.set(w, k * 1280));
      const out = await encoder.session.run({ [encoder.input]: new ort.Tensor('float32', mels, [batch.length, 1, 80, 16]) });
      data.set(out[encoder.output]!.data as Float32Array, i * size);
    }
  } else {
    windows.forEach((w, i) => (contract.audioIsMel ? data.set(w, i * size) : melToAudioShape(w, contract.audioShape, data, i * size)));
  }
  await writeFileAtomic(values.output, encodeNpy(data, [frames, ...contract.audioShape]));
  if (!values.quiet) process.stderr.write(`wrote ${values.output}: [${[frames, ...contract.audioShape].join(', ')}] float32 (${contract.name}, ${fps} fps)\n`);
  return 0;
}
