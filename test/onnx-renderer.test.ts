import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MelConditioning } from '../src/audio/mel-conditioning.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { runFfmpeg } from '../src/encode/ffmpeg.js';
import { analyzeSync } from '../src/eval/sync-analysis.js';
import { CONTRACT_NAMES, CONTRACTS } from '../src/render/onnx/contracts.js';
import { generateAudioEncoder, generateKnownAnswerModel, generateModel } from '../src/render/onnx/model-init.js';
import type { OnnxRenderer } from '../src/render/onnx/onnx-renderer.js';
import { fromFloat16, loadModel, toFloat16 } from '../src/render/onnx/model-session.js';
import { encodeOnnxModel } from '../src/render/onnx/onnx-writer.js';
import { say } from '../src/say.js';
import { REST_MOUTH } from '../src/visemes/mouth-params.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';
import { avatarCli, ffprobe, tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
const previousBatch = process.env.MAX_BATCH_SIZE;
before(async () => {
  ({ dir, cleanup } = await tempDir('avatar-onnx-'));
  // An odd batch size: batches end mid-sentence, so batching must keep frames in order.
  process.env.MAX_BATCH_SIZE = '5';
});
after(async () => {
  if (previousBatch === undefined) delete process.env.MAX_BATCH_SIZE;
  else process.env.MAX_BATCH_SIZE = previousBatch;
  await cleanup();
});

/** All frames of a video as RGB. */
async function decodeRgb(path: string, width: number, height: number): Promise<Uint8Array[]> {
  const { code, stdout } = await runFfmpeg(['-loglevel', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  assert.equal(code, 0);
  const size = width * height * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= stdout.length; o += size) frames.push(stdout.subarray(o, o + size));
  return frames;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array, width: number, region: readonly [number, number, number, number]): number {
  const [x0, y0, w, h] = region;
  let sum = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) for (let c = 0; c < 3; c++) sum += Math.abs(a[(y * width + x) * 3 + c]! - b[(y * width + x) * 3 + c]!);
  return sum / (w * h * 3);
}

describe('onnx renderer', () => {
  for (const contract of CONTRACT_NAMES) {
    it(`a tiny ${contract} model from "avatar model init" drives an avatar through say (H.264 + AAC, the face changes only inside the lower face)`, async () => {
      const root = join(dir, `avatars-${contract}`);
      const model = join(dir, `${contract}.onnx`);
      const init = await avatarCli(['model', 'init', '--contract', contract, '-o', model]);
      assert.equal(init.code, 0, init.stderr);
      // seed320 goes in as seed 002's layout (checkpoint/*.onnx); the others are attached by prepare.
      if (contract === 'seed320') await writeSeedLayoutAvatar(join(root, 'face'), { model: await readFile(model) });
      else {
        await writeSeedLayoutAvatar(join(root, 'face'));
        const attach = await avatarCli(['prepare', '--model', model, '--contract', contract, '--avatars-dir', root, 'face']);
        assert.equal(attach.code, 0, attach.stderr);
        const manifest = JSON.parse(await readFile(join(root, 'face', 'avatar.json'), 'utf8')) as { renderer: string; model: { contract: string } };
        assert.equal(manifest.renderer, 'onnx');
        assert.equal(manifest.model.contract, contract);
      }
      const output = join(dir, `${contract}.mp4`);
      const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0 });
      try {
        const result = await say({ text: 'Hello, nice to meet you.', output, avatar: 'face', catalog: registry, language: 'en' });
        assert.equal(result.renderer, 'onnx');
        assert.equal(result.executionProvider, 'cpu');
        const { streams } = await ffprobe(output);
        const video = streams.find((s) => s.codec_type === 'video')!;
        assert.equal(video.codec_name, 'h264');
        assert.equal(streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
        assert.equal(video.width, 256);
        const frames = await decodeRgb(output, 256, 256);
        assert.equal(frames.length, result.frames);
        // Background: the first stored frame, decoded the same way.
        const still = await decodeRgb(join(root, 'face', 'frames', 'frame_0000.jpg'), 256, 256);
        const renderer = await registry.createRenderer('face', { fps: 25 });
        const mouth = renderer.mouthRegion;
        const inside = meanAbsDiff(frames[0]!, still[0]!, 256, mouth);
        const top = meanAbsDiff(frames[0]!, still[0]!, 256, [64, 8, 128, 40]);
        assert.ok(inside > 8, `the model's face is pasted in the mouth region (difference ${inside.toFixed(1)})`);
        assert.ok(top < 4, `the forehead stays the background frame (difference ${top.toFixed(1)})`);
      } finally {
        registry.close();
      }
    });
  }

  it('the known-answer model shows lag 0 +/- 1 frame end to end (mel windows, batching, paste-back, encoding)', async () => {
    const root = join(dir, 'avatars-known');
    await writeSeedLayoutAvatar(join(root, 'known'));
    const model = join(dir, 'known.onnx');
    await writeFile(model, generateKnownAnswerModel().bytes);
    assert.equal((await avatarCli(['prepare', '--model', model, '--contract', 'wav2lip96', join(root, 'known')])).code, 0);
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0 });
    try {
      const output = join(dir, 'known.mp4');
      await say({
        text: 'The quick brown fox jumps over the lazy dog. Peter Piper picked a peck of pickled peppers.',
        output, avatar: 'known', catalog: registry, language: 'en',
      });
      const renderer = await registry.createRenderer('known', { fps: 25 });
      const sync = await analyzeSync(output, renderer.mouthRegion);
      console.log(`# known-answer model: lag ${sync.lagFrames} frames, offset ${sync.offsetMs.toFixed(1)} ms, peak correlation ${sync.peakCorrelation.toFixed(2)}`);
      assert.ok(Math.abs(sync.lagFrames) <= 1, `lag ${sync.lagFrames} frames`);
      assert.ok(sync.peakCorrelation > 0.4, `mouth follows the audio (peak correlation ${sync.peakCorrelation})`);
    } finally {
      registry.close();
    }
  });

  it('bad models fail at load with the file and what was expected', async () => {
    const notModel = join(dir, 'not-a-model.onnx');
    await writeFile(notModel, 'this is not a model at all');
    await assert.rejects(loadModel(notModel, { path: notModel, contract: 'wav2lip96' }), (e: Error) => e.message.includes(notModel) && /cannot be loaded as an ONNX model/.test(e.message));
    const other = join(dir, 'ultralight.onnx');
    await writeFile(other, generateModel('ultralight160', 'tiny').bytes);
    await assert.rejects(loadModel(other, { path: other, contract: 'wav2lip96' }), (e: Error) => e.message.includes(other) && e.message.includes('[batch, 6, 96, 96]'));
    await assert.rejects(loadModel(other, { path: other, contract: 'ultralight160', inputs: { visual: 'face', audio: 'audio' } }), /no visual input "face"/);
    await assert.rejects(loadModel(other, { path: other, contract: 'ultralight160', output: 'mouth' }), /no output "mouth"/);
    await assert.rejects(loadModel(join(dir, 'missing.onnx'), { path: 'missing.onnx', contract: 'seed320' }), /missing\.onnx does not exist/);
    await assert.rejects(loadModel(other, { path: other, contract: 'vgg' }), /unknown model contract "vgg"/);
    // A graph with an op no provider has: named in the error.
    const unknownOp = join(dir, 'unknown-op.onnx');
    await writeFile(unknownOp, encodeOnnxModel({
      name: 'bad', nodes: [{ op: 'NoSuchLipSyncOp', inputs: ['target'], outputs: ['output'] }], initializers: [],
      inputs: [{ name: 'target', shape: ['batch', 6, 96, 96] }, { name: 'source', shape: ['batch', 1, 80, 16] }],
      outputs: [{ name: 'output', shape: ['batch', 3, 96, 96] }],
    }));
    await assert.rejects(loadModel(unknownOp, { path: unknownOp, contract: 'wav2lip96' }), (e: Error) => e.message.includes(unknownOp) && e.message.includes('NoSuchLipSyncOp'));
    // Wrong rank: an audio input without the mel's channel axis.
    const rank3 = join(dir, 'rank3.onnx');
    await writeFile(rank3, encodeOnnxModel({
      name: 'rank3', nodes: [{ op: 'Identity', inputs: ['target'], outputs: ['output'] }], initializers: [],
      inputs: [{ name: 'target', shape: ['batch', 6, 96, 96] }, { name: 'source', shape: ['batch', 80, 16] }],
      outputs: [{ name: 'output', shape: ['batch', 6, 96, 96] }],
    }));
    await assert.rejects(loadModel(rank3, { path: rank3, contract: 'wav2lip96' }), /audio input "source" has shape \[batch, 80, 16\] \(rank 3\); expected \[batch, 1, 80, 16\] \(rank 4\)/);
    // Through the CLI: a clear message and a non-zero exit, and the avatar is left as it was.
    await writeSeedLayoutAvatar(join(dir, 'avatars-bad', 'bad'));
    const attach = await avatarCli(['prepare', '--model', notModel, '--contract', 'wav2lip96', join(dir, 'avatars-bad', 'bad')]);
    assert.equal(attach.code, 2);
    assert.match(attach.stderr, /not-a-model\.onnx cannot be loaded as an ONNX model for contract wav2lip96/);
    await assert.rejects(readFile(join(dir, 'avatars-bad', 'bad', 'avatar.json')));
  });

  it('gives the same frames batched through plan() as frame by frame (realtime), in order', async () => {
    const root = join(dir, 'avatars-batch');
    await writeSeedLayoutAvatar(join(root, 'batch'), { model: generateModel('seed320', 'tiny', 3).bytes, size: 128, frames: 4 });
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0 });
    try {
      const pcm = Int16Array.from({ length: 24000 }, (_, i) => Math.round(9000 * Math.sin(i / 7) * Math.sin(i / 3000) ** 2));
      const conditioning = new MelConditioning(25);
      conditioning.push(pcm, 24000);
      conditioning.finish();
      const frames = Array.from({ length: 12 }, (_, index) => ({ index, ptsMs: index * 40, speaking: true, mouth: REST_MOUTH, audio: conditioning.features(index)! }));
      const batched = await registry.createRenderer('batch', { fps: 25 });
      batched.plan!(frames);
      const a = [];
      for (const f of frames) a.push(Uint8Array.from((await batched.render(f)).data));
      const single = await registry.createRenderer('batch', { fps: 25 });
      for (const [i, f] of frames.entries()) {
        const b = (await single.render(f)).data;
        let worst = 0;
        for (let p = 0; p < b.length; p++) worst = Math.max(worst, Math.abs(a[i]![p]! - b[p]!));
        assert.ok(worst <= 2, `frame ${i}: batched and single differ by ${worst}`);
      }
      // Different audio gives a different face: frames are not all alike.
      assert.notDeepEqual(a[0], a[6]);
    } finally {
      registry.close();
    }
  });

  it('runs an audio encoder for a contract that does not take the mel (seed layout: checkpoint/audio_encoder.onnx)', async () => {
    const root = join(dir, 'avatars-encoder');
    await writeSeedLayoutAvatar(join(root, 'enc'), { model: generateModel('seed320', 'tiny').bytes, size: 128, frames: 3 });
    await writeFile(join(root, 'enc', 'checkpoint', 'audio_encoder.onnx'), generateAudioEncoder('seed320').bytes);
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0 });
    try {
      const renderer = await registry.createRenderer('enc', { fps: 25 }) as OnnxRenderer;
      assert.match(renderer.model.audioEncoder?.file ?? '', /audio_encoder\.onnx$/);
      const output = join(dir, 'encoder.mp4');
      const result = await say({ text: 'Hi there.', output, avatar: 'enc', catalog: registry, language: 'en' });
      assert.equal((await decodeRgb(output, 128, 128)).length, result.frames);
    } finally {
      registry.close();
    }
    // An encoder with the wrong output shape is refused with what was expected.
    const wrong = join(dir, 'wrong-encoder.onnx');
    await writeFile(wrong, generateAudioEncoder('ultralight160').bytes);
    await assert.rejects(loadModel(join(root, 'enc', 'checkpoint', 'model_best.onnx'), { path: 'm', contract: 'seed320' }, 'cpu', wrong), /must give \[batch, 32, 16, 16\] for contract seed320/);
  });

  it('converts float32 to float16 and back (fp16 models) within half precision', () => {
    const values = Float32Array.from([0, 1, -1, 0.5, 0.333, 65504, 1e-6, -2.5e-3, 100.25, 0.999]);
    const back = fromFloat16(toFloat16(values));
    values.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) <= Math.max(Math.abs(v) * 2 ** -11, 6e-8), `${v} -> ${back[i]}`));
  });

  it('avatar features writes the exact tensors a model receives as .npy', async () => {
    const wav = join(dir, 'speech.wav');
    await say({ text: 'Hello.', output: join(dir, 'speech.mp4'), audioOut: wav, language: 'en' });
    for (const contract of ['wav2lip96', 'seed320'] as const) {
      const npy = join(dir, `${contract}.npy`);
      const r = await avatarCli(['features', '--contract', contract, wav, '-o', npy]);
      assert.equal(r.code, 0, r.stderr);
      const bytes = await readFile(npy);
      const headerLength = bytes.readUInt16LE(8);
      const header = bytes.subarray(10, 10 + headerLength).toString();
      const frames = Number(/'shape': \((\d+),/.exec(header)![1]);
      assert.match(header, new RegExp(`'shape': \\(${frames}, ${CONTRACTS[contract].audioShape.join(', ')}\\)`));
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength));
      assert.equal(data.length, frames * CONTRACTS[contract].audioShape.reduce((a, b) => a * b, 1));
      assert.ok(data.every((v) => v >= -4 && v <= 4) && data.some((v) => v > -3), 'normalised mel values with speech in them');
    }
  });
});
