/**
 * `npm run bench` (ONNX part): neural lip-sync models of each contract at `--size real`
 * (random weights, the compute of the published architectures) on this machine's
 * execution provider. Prints inference ms per frame at batch 1, 8 and 24, face
 * preparation and paste-back ms per frame, and end-to-end FPS of one realtime-like run
 * (frame by frame, batch 1) and one file-like run (planned, batched). Each figure is one
 * short measurement (seconds in all); never fails on time.
 * Options: --contracts a,b (default all), --frames N (frames per end-to-end run, default 24).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MelConditioning } from '../src/audio/mel-conditioning.js';
import { attachModel } from '../src/avatars/attach-model.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { CONTRACT_NAMES, CONTRACTS, type ContractName } from '../src/render/onnx/contracts.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { loadModel, loadOrt } from '../src/render/onnx/model-session.js';
import type { OnnxRenderer } from '../src/render/onnx/onnx-renderer.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import type { MouthFrame } from '../src/visemes/mouth-params.js';
import { REST_MOUTH } from '../src/visemes/mouth-params.js';
import { writeSeedLayoutAvatar } from '../test/helpers/onnx-avatar.js';

const { values } = parseArgs({ options: { contracts: { type: 'string' }, frames: { type: 'string', default: '24' } } });
const contracts = (values.contracts?.split(',') ?? CONTRACT_NAMES) as ContractName[];
const FRAMES = Number(values.frames);
const FPS = 25;
const work = mkdtempSync(join(tmpdir(), 'avatar-onnx-bench-'));

async function speechFrames(count: number): Promise<MouthFrame[]> {
  const tts = new EspeakTtsProvider();
  const parts: Speech[] = [];
  for await (const s of tts.synthesize({ text: 'Hello, and welcome. I am your digital avatar, and I can speak any text you give me.', language: 'en' })) parts.push(s);
  await tts.close();
  const speech = concatSpeech(parts);
  const conditioning = new MelConditioning(FPS);
  conditioning.push(speech.pcm, speech.sampleRate);
  conditioning.finish();
  return Array.from({ length: count }, (_, index) => ({ index, ptsMs: (index * 1000) / FPS, mouth: REST_MOUTH, speaking: true, audio: conditioning.features(index)! }));
}

async function inferenceMs(file: string, contract: ContractName, batch: number): Promise<number> {
  const ort = await loadOrt();
  const model = await loadModel(file, { path: file, contract });
  const c = CONTRACTS[contract];
  const feeds = {
    [model.visualInput]: new ort.Tensor('float32', new Float32Array(batch * 6 * c.size * c.size).fill(0.5), [batch, 6, c.size, c.size]),
    [model.audioInput]: new ort.Tensor('float32', new Float32Array(batch * c.audioShape.reduce((a, b) => a * b, 1)).fill(-1), [batch, ...c.audioShape]),
  };
  const t0 = performance.now();
  await model.session.run(feeds);
  return (performance.now() - t0) / batch;
}

async function endToEnd(renderer: OnnxRenderer, frames: readonly MouthFrame[], planned: boolean): Promise<number> {
  const t0 = performance.now();
  if (planned) renderer.plan(frames);
  for (const f of frames) (await renderer.render(f)).release?.();
  return frames.length / ((performance.now() - t0) / 1000);
}

try {
  const frames = await speechFrames(FRAMES);
  console.log(`ONNX lip-sync models, --size real, random weights; avatar 512x512; ${FRAMES} frames per end-to-end run; MAX_BATCH_SIZE ${process.env.MAX_BATCH_SIZE ?? 8}`);
  for (const contract of contracts) {
    const file = join(work, `${contract}.onnx`);
    const generated = generateModel(contract, 'real');
    await writeFile(file, generated.bytes);
    const dir = join(work, 'avatars', contract);
    await writeSeedLayoutAvatar(dir, { size: 512, frames: 4 });
    await attachModel(dir, file, contract);
    const registry = await AvatarRegistry.open({ dirs: [join(work, 'avatars')], rescanMs: 0 });
    const renderer = (await registry.createRenderer(contract, { fps: FPS })) as OnnxRenderer;
    await inferenceMs(join(dir, 'model.onnx'), contract, 1); // warm-up
    const infer = [];
    for (const batch of [1, 8, 24]) infer.push(await inferenceMs(join(dir, 'model.onnx'), contract, batch));
    const realtime = await endToEnd(renderer, frames, false);
    const { prepareMs, pasteMs, frames: n } = renderer.times;
    const file2 = await endToEnd(renderer, frames.map((f) => ({ ...f, index: f.index + FRAMES })), true);
    console.log(`${contract.padEnd(13)} ${(generated.macsPerFrame / 1e9).toFixed(2)} GMAC/frame, ${(generated.parameters / 1e6).toFixed(1)} M params, provider ${renderer.executionProvider}`);
    console.log(`  inference ms/frame: batch 1 ${infer[0]!.toFixed(1)}, batch 8 ${infer[1]!.toFixed(1)}, batch 24 ${infer[2]!.toFixed(1)}`);
    console.log(`  preparation ${(prepareMs / n).toFixed(2)} ms/frame, paste-back ${(pasteMs / n).toFixed(2)} ms/frame`);
    console.log(`  end to end: realtime (batch 1) ${realtime.toFixed(1)} FPS, file (planned batches) ${file2.toFixed(1)} FPS`);
    registry.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
