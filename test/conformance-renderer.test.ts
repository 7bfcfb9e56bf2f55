import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { i420FrameBytes } from '../src/core/frame.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boxOfBounds, type Bounds, type Box } from '../src/core/geometry.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { measureSpeechRegion } from '../src/pipeline/realtime/patch-region.js';
import { createRendererRegistry, type RendererInput } from '../src/render/registry.js';
import type { Renderer } from '../src/render/renderer.js';
import { syntheticAvatar } from '../src/testing/synthetic-avatar.js';
import { REST_MOUTH, type MouthFrame, type MouthParams } from '../src/visemes/mouth-params.js';

/**
 * The Renderer contract, run against every renderer this build registers. A renderer that
 * a new lip-sync engine adds to `createRendererRegistry` is held to it by adding its input
 * below.
 */
const SIZE = 256;
const OPEN: MouthParams = { jawOpen: 0.9, lipWidth: 0.6, rounding: 0.1, closure: 0, teeth: 0.8, tongue: 0.3 };
const ROUND: MouthParams = { jawOpen: 0.4, lipWidth: 0.1, rounding: 1, closure: 0, teeth: 0, tongue: 0 };

function frame(index: number, mouth: MouthParams, speaking = true): MouthFrame {
  return { index, ptsMs: index * 40, mouth, speaking };
}

async function draw(renderer: Renderer, f: MouthFrame): Promise<Uint8Array> {
  const picture = await renderer.render(withAudio(renderer, f));
  const copy = picture.data.slice();
  picture.release?.();
  return copy;
}

/** Pixels (luma) that differ by more than `tolerance`, outside the box. */
function changedOutside(a: Uint8Array, b: Uint8Array, [x, y, w, h]: readonly number[], tolerance = 2): number {
  let n = 0;
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      if (px >= x! && px < x! + w! && py >= y! && py < y! + h!) continue;
      if (Math.abs(a[py * SIZE + px]! - b[py * SIZE + px]!) > tolerance) n++;
    }
  }
  return n;
}

function lumaDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < SIZE * SIZE; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / (SIZE * SIZE);
}

const registry = createRendererRegistry();
const avatar = await syntheticAvatar(SIZE, 8);
// The neural renderer gets a tiny model of the wav2lip96 contract (random weights) and face crops.
const modelDir = await mkdtemp(join(tmpdir(), 'conformance-onnx-'));
const modelPath = join(modelDir, 'model.onnx');
await writeFile(modelPath, generateModel('wav2lip96', 'tiny').bytes);
after(() => rm(modelDir, { recursive: true, force: true }));
const faceCrop: Bounds = [64, 48, 192, 230];
const inputFor = (name: string): RendererInput => ({
  avatarId: `conformance-${name}`, width: SIZE, height: SIZE, scale: 1, frames: avatar.frames, mouth: avatar.mouth,
  model: { path: modelPath, contract: 'wav2lip96' }, cropRects: Array.from({ length: avatar.frames.frameCount }, () => faceCrop),
});

/**
 * Renderers driven by audio take each frame's audio input from the pipeline: speaking frames
 * here get the features of a loud tone, silent ones those of silence.
 */
const featureCache = new WeakMap<Renderer, Float32Array[]>();
function withAudio(renderer: Renderer, f: MouthFrame): MouthFrame {
  if (!renderer.createAudioConditioning) return f;
  let features = featureCache.get(renderer);
  if (!features) {
    const conditioning = renderer.createAudioConditioning(25);
    const rate = 16000;
    const pcm = new Int16Array(rate * 2);
    for (let i = rate; i < pcm.length; i++) pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * 180 * i) / rate) * (0.6 + 0.4 * Math.sin((2 * Math.PI * 3 * i) / rate)));
    conditioning.push(pcm, rate);
    conditioning.finish();
    features = Array.from({ length: 50 }, (_, i) => conditioning.features(i)!);
    featureCache.set(renderer, features);
  }
  return { ...f, audio: features[(f.speaking ? 25 : 0) + (f.index % 20)]! };
}

for (const name of registry.names()) {
  describe(`Renderer contract: ${name}`, () => {
    it('draws frames of its stated size, in I420', async () => {
      const renderer = await registry.create(name, inputFor(name));
      assert.equal(renderer.width, SIZE);
      assert.equal(renderer.height, SIZE);
      const picture = await renderer.render(withAudio(renderer, frame(3, OPEN)));
      assert.equal(picture.width, SIZE);
      assert.equal(picture.height, SIZE);
      assert.equal(picture.data.length, i420FrameBytes(SIZE, SIZE));
      assert.equal(picture.ptsMs, 120);
      picture.release?.();
      const [x, y, w, h] = renderer.mouthRegion;
      assert.ok(w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= SIZE && y + h <= SIZE, `mouth region ${renderer.mouthRegion.join(',')} lies inside the frame`);
    });

    it('is deterministic: the same frames in the same order give the same pictures', async () => {
      const sequence = [frame(5, OPEN), frame(6, ROUND), frame(7, OPEN), frame(8, REST_MOUTH, false), frame(9, OPEN)];
      const a = await registry.create(name, inputFor(name));
      const b = await registry.create(name, inputFor(name));
      for (const f of sequence) assert.deepEqual(await draw(b, f), await draw(a, f), `frame ${f.index}`);
    });

    it('never changes a picture it handed out until it is released, and reuses released buffers correctly', async () => {
      const sequence = [frame(1, OPEN), frame(2, ROUND), frame(3, OPEN), frame(4, ROUND), frame(5, OPEN), frame(6, REST_MOUTH, false), frame(7, OPEN)];
      const reference = await registry.create(name, inputFor(name));
      const expected: Uint8Array[] = [];
      for (const f of sequence) expected.push((await reference.render(withAudio(reference, f))).data.slice());
      const renderer = await registry.create(name, inputFor(name));
      const held = await renderer.render(withAudio(renderer, sequence[0]!));
      for (let i = 1; i < 5; i++) {
        const picture = await renderer.render(withAudio(renderer, sequence[i]!));
        assert.deepEqual(picture.data, expected[i], `frame ${i}`);
        picture.release?.();
      }
      assert.deepEqual(held.data, expected[0], 'a held frame was overwritten by later renders');
      held.release?.();
      for (let i = 5; i < sequence.length; i++) assert.deepEqual(await draw(renderer, sequence[i]!), expected[i], `frame ${i} in a reused buffer`);
    });

    it('keeps still at rest: silence changes no more than idle motion does', async () => {
      const renderer = await registry.create(name, inputFor(name));
      const rest0 = await draw(renderer, frame(4, REST_MOUTH, false));
      assert.deepEqual(await draw(renderer, frame(4, REST_MOUTH, false)), rest0, 'rest frames at one index differ');
      const open = await draw(renderer, frame(4, OPEN));
      assert.ok(lumaDifference(rest0, open) > 0.05, `an open mouth changes the picture (mean luma change ${lumaDifference(rest0, open).toFixed(3)})`);
    });

    it('changes pixels, when only the mouth changes, only inside the speech region the realtime stage measures, centred on its mouth region', async () => {
      const renderer = await registry.create(name, inputFor(name));
      // Drawn, warped and selected mouths follow the mouth parameters, which the realtime stage
      // measures; a neural renderer follows the audio and may change only its face crop.
      const region: Box | undefined = renderer.createAudioConditioning ? boxOfBounds(faceCrop) : await measureSpeechRegion(renderer, 8, 25);
      assert.ok(region, 'speech changes a bounded part of the picture');
      let cx = 0;
      let cy = 0;
      let n = 0;
      for (const index of [0, 3, 6]) {
        const rest = await draw(renderer, frame(index, REST_MOUTH, false));
        for (const mouth of [OPEN, ROUND]) {
          const moved = await draw(renderer, frame(index, mouth));
          assert.equal(changedOutside(rest, moved, region), 0, `frame ${index}: pixels changed outside the measured speech region ${region.join(',')}`);
          for (let i = 0; i < SIZE * SIZE; i++) {
            if (Math.abs(rest[i]! - moved[i]!) > 2) {
              cx += i % SIZE;
              cy += Math.floor(i / SIZE);
              n++;
            }
          }
        }
      }
      // The mouth region marks the lips; the jaw below them moves too, so its centre may lie a little lower.
      const [x, y, w, h] = renderer.mouthRegion;
      assert.ok(n > 0);
      assert.ok(cx / n >= x && cx / n < x + w && cy / n >= y && cy / n < y + h * 1.5, `the centre of what speech changes (${(cx / n).toFixed(0)},${(cy / n).toFixed(0)}) lies in the mouth region ${renderer.mouthRegion.join(',')}`);
    });
  });
}
