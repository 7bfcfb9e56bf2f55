import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pasteFace, type FacePaste } from '../src/compose/face-paste.js';
import { strayShare } from '../src/compose/mouth-blend.js';
import { IDENTITY } from '../src/compose/similarity.js';

const W = 128;
const H = 128;
const patch = { cx: 64, cy: 70, rx: 40, ry: 40 };
const lips = { cx: 64, cy: 70, rx: 16, ry: 12 };

/** An I420 frame of flat luma `y`, with `paint` run over every luma pixel. */
function frame(y: number, paint: (x: number, yy: number) => number | undefined = () => undefined): Uint8Array {
  const data = new Uint8Array(W * H * 1.5).fill(128);
  for (let yy = 0; yy < H; yy++) for (let x = 0; x < W; x++) data[yy * W + x] = paint(x, yy) ?? y;
  return data;
}

describe('stray surfaces in a whole-face blend', () => {
  it('a donor lit differently but showing the same face has none', () => {
    assert.equal(strayShare(frame(130), frame(110), W, H, patch, lips, 0, 0), 0);
  });

  it('a donor whose open mouth (dark, teeth) differs only between the lips has none', () => {
    const donor = frame(110, (x, y) => ((x - 64) ** 2 / 15 ** 2 + (y - 70) ** 2 / 10 ** 2 < 1 ? (y < 70 ? 230 : 20) : undefined));
    assert.equal(strayShare(donor, frame(110), W, H, patch, lips, 0, 0), 0);
  });

  it('a donor that brings a bright window over a third of the face beside the lips is counted', () => {
    const donor = frame(110, (x) => (x > 74 ? 240 : undefined));
    const share = strayShare(donor, frame(110), W, H, patch, lips, 0, 0);
    assert.ok(share > 0.25 && share < 0.5, `share ${share}`);
  });

  it('reads the donor where the translation puts it', () => {
    // The window lies beyond the patch in the donor; moved by 30 px it comes into the face.
    const donor = frame(110, (x) => (x > 104 ? 240 : undefined));
    assert.equal(strayShare(donor, frame(110), W, H, patch, lips, 0, 0), 0);
    assert.ok(strayShare(donor, frame(110), W, H, patch, lips, -30, 0) > 0.25);
  });
});

describe('strays beyond the mouth zone in a face paste', () => {
  const square = (x0: number, y0: number, x1: number, y1: number) => [x0, y0, x1, y0, x1, y1, x0, y1];
  const paste: FacePaste = {
    toSource: IDENTITY, polygons: [square(20, 20, 108, 120)], clip: { x: 0, y: 0, nx: 0, ny: 1 }, feather: 12,
    mouthZone: { cx: 64, cy: 70, rx: 16, ry: 12, nx: 0, ny: 1 },
  };
  // The donor: the background's face with an open mouth, and a thin bright line on one cheek
  // (the rim of a jaw, a cable caught against a window) that the background lacks.
  const donor = frame(110, (x, y) => {
    if ((x - 64) ** 2 / 12 ** 2 + (y - 70) ** 2 / 8 ** 2 < 1) return 30;
    if (Math.abs(x - (90 + (y - 60) * 0.3)) < 1 && y > 50 && y < 100) return 175;
    return undefined;
  });

  it('hides a thin stray whole, and still shows the mouth', () => {
    const out = frame(110);
    pasteFace(donor, out, W, H, paste);
    let worst = 0;
    for (let y = 55; y < 95; y++) for (let x = 80; x < 110; x++) worst = Math.max(worst, Math.abs(out[y * W + x]! - 110));
    assert.ok(worst <= 6, `the line shows by up to ${worst} levels`);
    assert.ok(out[70 * W + 64]! < 50, `the open mouth shows (luma ${out[70 * W + 64]})`);
    assert.ok(out[70 * W + 74]! < 60 && out[75 * W + 64]! < 60, `the mouth shows to its edges (luma ${out[70 * W + 74]}, ${out[75 * W + 64]})`);
  });
});
