import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { i420FrameBytes, rgbToYuv, yuvToRgb } from '../src/core/frame.js';
import { copyShifted } from '../src/render/i420-shift.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { parseSize } from '../src/render/renderer.js';
import { REST_MOUTH, type MouthParams } from '../src/visemes/mouth-params.js';

const open: MouthParams = { jawOpen: 0.9, lipWidth: 0.6, rounding: 0, closure: 0, teeth: 0.5, tongue: 0.2 };

/** Mean absolute luma difference inside a region. */
function regionDiff(a: Uint8Array, b: Uint8Array, width: number, [x, y, w, h]: readonly number[]): number {
  let sum = 0;
  for (let r = y!; r < y! + h!; r++) for (let c = x!; c < x! + w!; c++) sum += Math.abs(a[r * width + c]! - b[r * width + c]!);
  return sum / (w! * h!);
}

describe('parametric renderer', () => {
  it('is deterministic: the same frame renders to the same bytes', () => {
    const a = new ParametricRenderer(256, 256).render({ index: 10, ptsMs: 400, mouth: open, speaking: true });
    const b = new ParametricRenderer(256, 256).render({ index: 10, ptsMs: 400, mouth: open, speaking: true });
    assert.equal(a.data.length, i420FrameBytes(256, 256));
    assert.deepEqual(a.data, b.data);
  });

  it('draws an open mouth differently from a closed one, only around the mouth', () => {
    const r = new ParametricRenderer(512, 512);
    const closed = r.render({ index: 0, ptsMs: 0, mouth: REST_MOUTH, speaking: false }).data;
    const opened = r.render({ index: 0, ptsMs: 0, mouth: open, speaking: true }).data;
    assert.ok(regionDiff(closed, opened, 512, r.mouthRegion) > 10, 'mouth region changes');
    assert.ok(regionDiff(closed, opened, 512, [150, 150, 200, 100]) < 0.5, 'eyes and forehead do not');
    // An open mouth is dark inside: the darkest luma in the region drops.
    const darkest = (f: Uint8Array) => {
      const [x, y, w, h] = r.mouthRegion;
      let min = 255;
      for (let row = y; row < y + h; row++) for (let col = x; col < x + w; col++) min = Math.min(min, f[row * 512 + col]!);
      return min;
    };
    assert.ok(darkest(opened) < darkest(closed) - 20);
  });

  it('blinks within the first ten seconds', () => {
    const r = new ParametricRenderer(256, 256);
    const eyeRegion = [70, 105, 120, 30] as const;
    const first = r.render({ index: 0, ptsMs: 0, mouth: REST_MOUTH, speaking: false }).data;
    let maxDiff = 0;
    for (let i = 1; i < 250; i++) {
      const f = r.render({ index: i, ptsMs: i * 40, mouth: REST_MOUTH, speaking: false }).data;
      maxDiff = Math.max(maxDiff, regionDiff(first, f, 256, eyeRegion));
    }
    assert.ok(maxDiff > 5, `eyes change by at most ${maxDiff.toFixed(2)}`);
  });

  it('reuses released frames without changing what they show', () => {
    const pooled = new ParametricRenderer(256, 256);
    const fresh = new ParametricRenderer(256, 256);
    const mouths = [REST_MOUTH, open, { ...open, jawOpen: 0.3, rounding: 1 }, REST_MOUTH];
    for (let i = 0; i < 200; i++) {
      const frame = { index: i, ptsMs: i * 40, mouth: mouths[i % mouths.length]!, speaking: true };
      const a = pooled.render(frame);
      const expected = fresh.render(frame).data;
      assert.deepEqual(a.data, expected, `frame ${i}`);
      a.release?.();
    }
  });

  it('copyShifted matches a pixel-by-pixel shift with edge repetition', () => {
    const w = 16;
    const h = 8;
    const src = Uint8Array.from({ length: i420FrameBytes(w, h) }, (_, i) => (i * 37) % 251);
    for (const [dx, dy] of [[0, 0], [3, 1], [-2, 2], [1, -3], [-3, -1]] as const) {
      const dst = new Uint8Array(src.length);
      copyShifted(src, dst, w, h, dx, dy);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sx = Math.min(w - 1, Math.max(0, x - dx));
          const sy = Math.min(h - 1, Math.max(0, y - dy));
          assert.equal(dst[y * w + x], src[sy * w + sx], `luma (${x},${y}) for shift (${dx},${dy})`);
        }
      }
    }
  });

  it('round-trips colours through YUV within one step', () => {
    for (const c of [{ r: 0, g: 0, b: 0 }, { r: 255, g: 255, b: 255 }, { r: 242, g: 200, b: 166 }, { r: 59, g: 125, b: 140 }]) {
      const back = yuvToRgb(rgbToYuv(c));
      for (const k of ['r', 'g', 'b'] as const) assert.ok(Math.abs(back[k] - c[k]) <= 1, `${k}: ${c[k]} -> ${back[k]}`);
    }
  });

  it('parses sizes and rejects odd or out-of-range ones', () => {
    assert.deepEqual(parseSize('512'), { width: 512, height: 512 });
    assert.deepEqual(parseSize('640x480'), { width: 640, height: 480 });
    for (const bad of ['511', '10', '4096', 'big', '640x']) assert.throws(() => parseSize(bad));
  });
});
