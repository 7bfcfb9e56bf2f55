import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MouthWarp, type WarpGeometry } from '../src/render/warp/mouth-warp.js';
import { warpPose } from '../src/render/warp/warp-renderer.js';
import { REST_MOUTH } from '../src/visemes/mouth-params.js';

const W = 256;
const H = 256;
const SKIN = 160;
const UPPER_LIP = 80;
const LOWER_LIP = 100;

/** A face with a wide mouth and thin lips: the upper lip from row 126 to the seam at 132, the lower lip to 140, 100 px wide. */
function face(): { frame: Uint8Array; geometry: WarpGeometry } {
  const frame = new Uint8Array(W * H * 1.5).fill(128);
  frame.fill(SKIN, 0, W * H);
  for (let y = 126; y < 140; y++) for (let x = 80; x < 177; x++) frame[y * W + x] = y < 132 ? UPPER_LIP : LOWER_LIP;
  const line = (y: number, cornerY = 132) => [[78, cornerY], [103, y], [128, y], [153, y], [178, cornerY]] as [number, number][];
  return {
    frame,
    geometry: { cx: 128, cy: 132, width: 100, noseY: 100, chinY: 180, upperOuter: line(126), upperInner: line(132), lowerInner: line(132), lowerOuter: line(140) },
  };
}

describe('warp: an opening mouth', () => {
  it('keeps the whole upper lip above the opening, however thin it is', () => {
    const { frame, geometry } = face();
    const out = Uint8Array.from(frame);
    const pose = warpPose({ ...REST_MOUTH, jawOpen: 1, closure: 0 }, geometry.width);
    new MouthWarp(geometry, W, H).apply(frame, out, pose);
    // Up the middle column from well inside the opening: the drawn interior, then the lip, then skin.
    const column = Array.from({ length: 40 }, (_, i) => out[(140 - i) * W + 128]!);
    const lipRows = column.filter((v) => Math.abs(v - UPPER_LIP) <= 6).length;
    assert.ok(lipRows >= 6, `the 6-row upper lip shows on ${lipRows} rows above the opening (column, bottom up: ${column.join(' ')})`);
    assert.ok(column.some((v) => v < 60), 'the opening shows');
  });

  it('opens to at most 0.4 of the mouth width at the widest jaw', () => {
    const pose = warpPose({ ...REST_MOUTH, jawOpen: 1, closure: 0 }, 100);
    assert.ok(Math.abs(pose.lowerDrop + pose.upperRise - 40) < 1e-9, `gap ${pose.lowerDrop + pose.upperRise}`);
  });
});
