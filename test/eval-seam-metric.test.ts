import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { MeshFaceLandmarker } from '../src/avatars/face-landmarks.js';
import { BLEND_FEATHER, blendEllipse } from '../src/compose/mouth-blend.js';
import { i420ToRgb, rgbToI420 } from '../src/compose/color-convert.js';
import type { FrameMouth } from '../src/render/avatar-input.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { faceRoll, seamRegion, seamScore } from '../src/eval/seam-metric.js';
import { REST_MOUTH } from '../src/visemes/mouth-params.js';

const SIZE = 512;
const MEDIA = process.env.AVATAR_MEDIA_DIR ?? resolve('..', 'shared', 'media');
const PHOTO = join(MEDIA, 'photo', 'opencv-doc_face_swapped.jpg');

interface Face {
  readonly name: string;
  /** I420 frame. */
  readonly frame: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly face: FrameMouth;
}

async function measured(name: string, frame: Uint8Array, width: number, height: number): Promise<Face> {
  const mesh = await MeshFaceLandmarker.get();
  const found = (await mesh.detect(i420ToRgb(frame, width, height), width, height))[0];
  assert.ok(found, `the face mesh finds the face of ${name}`);
  const face: FrameMouth = {
    cx: found.mouth.center[0], cy: found.mouth.center[1], width: found.mouth.width, open: found.mouth.openness,
    ax: found.noseBottom[0], ay: found.noseBottom[1], chinY: found.chin[1],
  };
  return { name, frame, width, height, face };
}

/** The drawn avatar at rest, and a real photo from the media folder (CI has it; see its README). */
async function faces(): Promise<Face[]> {
  const rest = Uint8Array.from(new ParametricRenderer(SIZE, SIZE).render({ index: 0, ptsMs: 0, speaking: false, mouth: REST_MOUTH }).data);
  await access(PHOTO).catch(() => assert.fail(`${PHOTO} is missing: the known-answer test needs the real media folder (set AVATAR_MEDIA_DIR)`));
  const meta = await sharp(PHOTO).metadata();
  const w = Math.round(meta.width! / 2) * 2;
  const h = Math.round(meta.height! / 2) * 2;
  const rgb = await sharp(PHOTO).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer();
  return [await measured('the drawn avatar', rest, SIZE, SIZE), await measured('a real photo', rgbToI420(new Uint8Array(rgb), w, h), w, h)];
}

/** `f` with its own lower face pasted back from `donor`, shifted by (dx, dy) pixels. */
function paste(f: Face, donor: Uint8Array, dx: number, dy: number): Uint8Array {
  const out = Uint8Array.from(f.frame);
  const m = f.face;
  const top = m.ay;
  const bottom = m.chinY + 0.1 * (m.chinY - m.cy);
  blendEllipse(donor, out, f.width, f.height, { cx: m.cx, cy: (top + bottom) / 2, rx: m.width * 1.3, ry: (bottom - top) / 2 / (1 - BLEND_FEATHER) }, dx, dy);
  return out;
}

function score(f: Face, output: Uint8Array): number {
  const n = f.width * f.height;
  return seamScore(output.subarray(0, n), f.frame.subarray(0, n), f.width, f.height, f.face).score;
}

describe('seam/ghost metric: known answers', () => {
  let all: Face[] = [];
  before(async () => {
    all = await faces();
  });

  it('scores a frame against itself as 0', () => {
    for (const f of all) assert.equal(score(f, f.frame), 0, f.name);
  });

  it('scores an aligned paste of a brighter copy (a correct render) near 0', () => {
    for (const f of all) {
      const brighter = f.frame.map((v, i) => (i < f.width * f.height ? Math.min(255, v + 8) : v));
      const s = score(f, paste(f, brighter, 0, 0));
      assert.ok(s < 1, `${f.name}: aligned paste scores ${s.toFixed(2)}`);
    }
  });

  it('scores a deliberately misaligned paste badly, and worse the further it is off', () => {
    for (const f of all) {
      const unit = f.face.width / 10;
      const near = score(f, paste(f, f.frame, Math.round(unit), Math.round(unit * 0.7)));
      const far = score(f, paste(f, f.frame, Math.round(3 * unit), Math.round(2 * unit)));
      assert.ok(near > 4, `${f.name}: a paste ${Math.round(unit)} px off scores ${near.toFixed(2)}`);
      assert.ok(far > near, `${f.name}: further off (${far.toFixed(2)}) scores worse than near (${near.toFixed(2)})`);
    }
  });

  it('scores what lies beside the head pasted onto the cheek badly', () => {
    for (const f of all) {
      // The donor is the frame moved right by 1.6 mouth widths: the cheek shows the side of the head and beyond.
      const s = score(f, paste(f, f.frame, Math.round(1.6 * f.face.width), 0));
      assert.ok(s > 8, `${f.name}: the side of the head on the cheek scores ${s.toFixed(2)}`);
    }
  });
});

describe('seam/ghost metric: the left-out lips ellipse follows the face', () => {
  /** A face with its mouth at (256, 300), 80 px wide, chin 90 px below the mouth along the face, rolled by `roll` radians about the mouth. */
  function tilted(roll: number): FrameMouth {
    const turn = (x: number, y: number) => [256 + (x - 256) * Math.cos(roll) - (y - 300) * Math.sin(roll), 300 + (x - 256) * Math.sin(roll) + (y - 300) * Math.cos(roll)];
    const eyes = [[196, 180], [236, 180], [276, 180], [316, 180]].flatMap(([x, y]) => turn(x!, y!));
    const chinY = turn(256, 390)[1]!;
    return { cx: 256, cy: 300, width: 80, open: 0, ax: 256, ay: 250, chinY, face: { align: [...eyes, 256, 200, 256, 230, 256, 245, 256, 250], jaw: [], yaw: 0, pitch: 0 } };
  }
  const inside = (r: ReturnType<typeof seamRegion>, x: number, y: number) => {
    const { cx, cy, rx, ry, angle } = r.lips;
    const u = ((x - cx) * Math.cos(angle) + (y - cy) * Math.sin(angle)) / rx;
    const v = ((y - cy) * Math.cos(angle) - (x - cx) * Math.sin(angle)) / ry;
    return u * u + v * v < 1;
  };

  it('reads the roll from the eye line and leaves an upright face axis-aligned', () => {
    assert.equal(faceRoll(tilted(0)), 0);
    assert.ok(Math.abs(faceRoll(tilted(0.35)) - 0.35) < 1e-9);
    assert.equal(seamRegion(tilted(0), 512, 512).lips.angle, 0);
    assert.equal(faceRoll({ ...tilted(0.35), face: undefined }), 0, 'no landmarks: upright');
  });

  it('covers the chin of a tilted face, which an upright ellipse would leave in the compared region', () => {
    const roll = 0.35;
    const m = tilted(roll);
    const chin = [256 - 90 * Math.sin(roll), 300 + 90 * Math.cos(roll)] as const;
    const jawDrop = [256 - 100 * Math.sin(roll), 300 + 100 * Math.cos(roll)] as const;
    const r = seamRegion(m, 512, 512);
    assert.ok(inside(r, ...chin) && inside(r, ...jawDrop), 'the chin and a dropped jaw lie in the left-out ellipse');
    const upright = seamRegion({ ...m, face: undefined }, 512, 512);
    assert.ok(!inside(upright, ...jawDrop), 'an axis-aligned ellipse misses the dropped jaw of this tilted face');
    // The cheek beside the mouth, across the face, stays compared.
    assert.ok(!inside(r, 256 + 70 * Math.cos(roll), 300 + 70 * Math.sin(roll)));
  });

  it('scores a tilted face whose jaw drops as clean, which an upright ellipse would not', () => {
    const roll = 0.35;
    const m = tilted(roll);
    const background = new Uint8Array(512 * 512).fill(120);
    // The output: the same, with the chin moved down along the face (a dark patch where it lands).
    const output = Uint8Array.from(background);
    const [jx, jy] = [256 - 100 * Math.sin(roll), 300 + 100 * Math.cos(roll)];
    for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) if ((x - jx) ** 2 + (y - jy) ** 2 < 25) output[y * 512 + x] = 60;
    const rolled = seamScore(output, background, 512, 512, m).score;
    const upright = seamScore(output, background, 512, 512, { ...m, face: undefined }).score;
    assert.ok(rolled < 0.5, `the rolled ellipse leaves the jaw out: ${rolled.toFixed(2)}`);
    assert.ok(upright > 1, `an upright ellipse counts it: ${upright.toFixed(2)}`);
  });
});
