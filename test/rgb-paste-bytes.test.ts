import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { planPaste, pasteIntoRgb, type PastePlan } from '../src/compose/rgb-paste.js';
import { firstRowOf, pasteBytesIntoRgb, pasteTakesSimd, usePasteSimd } from '../src/compose/rgb-paste-bytes.js';

const SIZE = 320;

/** A smooth model output in 0..1, 3 planes of SIZE x SIZE, different per channel. */
function floatOutput(): Float32Array {
  const out = new Float32Array(3 * SIZE * SIZE);
  for (let c = 0; c < 3; c++) for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) out[c * SIZE * SIZE + y * SIZE + x] = 0.5 + 0.4 * Math.sin(x / 7 + c) * Math.cos(y / 9);
  return out;
}

/** The same output as UINT8 rows firstRow.. of each plane, as the inference service sends it. */
function byteRows(out: Float32Array, firstRow: number): Uint8Array {
  const rows = SIZE - firstRow;
  const bytes = new Uint8Array(3 * rows * SIZE);
  for (let c = 0; c < 3; c++) for (let y = firstRow; y < SIZE; y++) for (let x = 0; x < SIZE; x++) bytes[c * rows * SIZE + (y - firstRow) * SIZE + x] = Math.round(out[c * SIZE * SIZE + y * SIZE + x]! * 255);
  return bytes;
}

/** A textured packed RGB background. */
function background(width: number, height: number): Uint8Array {
  const frame = new Uint8Array(width * height * 3);
  for (let i = 0; i < frame.length; i++) frame[i] = 90 + ((i * 13) % 50);
  return frame;
}

function pasteBytes(plan: PastePlan, frame: Uint8Array, width: number, out: Float32Array): void {
  const firstRow = firstRowOf(plan);
  pasteBytesIntoRgb(byteRows(out, firstRow), 0, { firstRow, planeStride: (SIZE - firstRow) * SIZE }, 'bgr', plan, frame, width);
}

describe('pasting a UINT8 model output (WebAssembly kernels)', () => {
  afterEach(() => usePasteSimd(true));
  const out = floatOutput();
  // Faces of 270 px and 200 px take the eight-pixel kernel; one of 100 px samples too sparsely for it.
  const crops = [
    { name: 'a 270 px face', width: 512, height: 512, crop: { x: 121, y: 150, side: 270 }, simd: true },
    { name: 'a 200 px face at the left edge', width: 512, height: 512, crop: { x: 3, y: 40, side: 200 }, simd: true },
    { name: 'a 100 px face', width: 512, height: 512, crop: { x: 200, y: 100, side: 100 }, simd: false },
    { name: 'a 900 px face in a 1920x1080 frame', width: 1920, height: 1080, crop: { x: 500, y: 100, side: 900 }, simd: true },
  ];
  for (const { name, width, height, crop, simd: eightPixels } of crops) {
    it(`${name}: within three levels of the float paste, the same bytes from both kernels, nothing outside the ellipse's box touched`, () => {
      const plan = planPaste(crop, SIZE, width, height)!;
      assert.equal(pasteTakesSimd(plan), eightPixels, 'the kernel this face takes');
      const bg = background(width, height);
      const float = bg.slice();
      pasteIntoRgb(out, 0, 'bgr', plan, float, width);
      const simd = bg.slice();
      pasteBytes(plan, simd, width, out);
      usePasteSimd(false);
      assert.equal(pasteTakesSimd(plan), false);
      const scalar = bg.slice();
      pasteBytes(plan, scalar, width, out);
      let worst = 0;
      let changed = 0;
      for (let p = 0; p < bg.length; p++) {
        worst = Math.max(worst, Math.abs(simd[p]! - float[p]!));
        if (simd[p] !== bg[p]) changed++;
        const x = Math.floor(p / 3) % width;
        const y = Math.floor(p / 3 / width);
        if (x < plan.x0 || x >= plan.x0 + plan.w || y < plan.y0 || y >= plan.y0 + plan.h) assert.equal(simd[p], bg[p], `pixel ${x},${y} outside the box changed`);
      }
      assert.ok(worst <= 3, `differs from the float paste by ${worst} levels`);
      assert.ok(changed > plan.w * plan.h, `only ${changed} bytes changed`);
      assert.deepEqual(scalar, simd);
    });
  }

  it('a flat output on a flat background of the same colour leaves it as it was, and a different one shows inside the ellipse', () => {
    const plan = planPaste({ x: 100, y: 100, side: 256 }, SIZE, 512, 512)!;
    const flat = new Float32Array(3 * SIZE * SIZE).fill(100 / 255);
    const frame = new Uint8Array(512 * 512 * 3).fill(100);
    pasteBytes(plan, frame, 512, flat);
    assert.ok(frame.every((v) => v === 100));
    // A step of 60 levels is beyond the colour match (which follows lighting changes of up to 24): it shows whole.
    const centre = ((Math.round(plan.y0 + plan.h / 2) * 512 + Math.round(plan.x0 + plan.w / 2)) * 3);
    pasteBytes(plan, frame, 512, flat.fill(160 / 255));
    assert.deepEqual([...frame.subarray(centre, centre + 3)], [160, 160, 160]);
  });
});
