import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FaceGeometry } from '../src/avatars/face-landmarks.js';
import { buildFaceTrack, FaceTrackError } from '../src/avatars/face-track.js';
import { MouthShapeIndex } from '../src/render/select/mouth-shape-index.js';
import { pingPong } from '../src/render/frame-pool.js';

const LIMITS = { maxGapFrames: 12, secondFaceArea: 0.25, maxSecondFaceFrames: 2 };

/** A face at (x, y) with a 200 px box and a lip gap of `open` pixels. */
function face(x: number, y: number, open: number, size = 200): FaceGeometry {
  const line = (dy: number) => [[x + 60, y + 140 + dy], [x + 100, y + 140 + dy], [x + 140, y + 140 + dy]] as const;
  return {
    score: 0.99, box: [x, y, x + size, y + size],
    mouth: { center: [x + 100, y + 140], width: 80, openness: open, upperInner: line(0), lowerInner: line(open), upperOuter: line(-8), lowerOuter: line(open + 8) },
    noseBottom: [x + 100, y + 115], chin: [x + 100, y + 190],
  };
}

describe('face track', () => {
  it('smooths crop jitter but keeps the mouth signal', () => {
    // The box jitters by +/-3 px every frame; the mouth opens and closes every 4 frames.
    const frames = Array.from({ length: 100 }, (_, i) => [face(100 + (i % 2 ? 3 : -3), 50, i % 8 < 4 ? 2 : 30)]);
    const track = buildFaceTrack(frames, 25, LIMITS);
    const steps = track.cropRects.slice(1).map((r, i) => Math.abs(r[0] - track.cropRects[i]![0]));
    assert.ok(Math.max(...steps.slice(5, -5)) <= 2, `crop x moves at most ${Math.max(...steps)} px a frame (raw jitter is 6 px)`);
    const opens = track.mouths.map((m) => m.open);
    assert.ok(Math.max(...opens) >= 29 && Math.min(...opens) <= 3, 'open/closed survive smoothing');
  });

  it('fills short gaps and names the frames of long ones', () => {
    const frames = Array.from({ length: 60 }, (_, i) => (i >= 20 && i < 25 ? [] : [face(100, 50, 10)]));
    const track = buildFaceTrack(frames, 25, LIMITS);
    assert.equal(track.filledFrames, 5);
    assert.equal(track.mouths[22]!.open, 10);
    const long = Array.from({ length: 60 }, (_, i) => (i >= 20 && i < 40 ? [] : [face(100, 50, 10)]));
    assert.throws(() => buildFaceTrack(long, 25, LIMITS), (e: unknown) => e instanceof FaceTrackError && /frames 20-39/.test(e.message));
    assert.throws(() => buildFaceTrack([[], []], 25, LIMITS), /no face found \(frames 0-1\)/);
  });

  it('refuses a source where a second face is present for long', () => {
    const frames = Array.from({ length: 30 }, (_, i) => (i >= 10 ? [face(0, 0, 5), face(300, 0, 5, 180)] : [face(0, 0, 5)]));
    assert.throws(() => buildFaceTrack(frames, 25, LIMITS), /several faces found in 20 frames \(frames 10-29\)/);
    // A small face in the background does not count.
    const small = Array.from({ length: 30 }, () => [face(0, 0, 5), face(300, 0, 5, 60)]);
    assert.equal(buildFaceTrack(small, 25, LIMITS).mouths.length, 30);
  });
});

describe('select: mouth shape index', () => {
  const mouths = Array.from({ length: 200 }, (_, i) => ({ cx: 0, cy: 0, width: 80, open: 30 * Math.abs(Math.sin(i / 7)), ax: 0, ay: 0, chinY: 0 }));
  const index = new MouthShapeIndex(mouths);

  it('picks frames whose measured opening matches the wanted one', () => {
    const wide = index.best({ jawOpen: 0.75, lipWidth: 0.5, rounding: 0, closure: 0, teeth: 0, tongue: 0 }, -1);
    const half = index.best({ jawOpen: 0.37, lipWidth: 0.5, rounding: 0, closure: 0, teeth: 0, tongue: 0 }, -1);
    assert.ok(mouths[wide]!.open > 27, `wide open picks ${mouths[wide]!.open.toFixed(1)}`);
    assert.ok(Math.abs(mouths[half]!.open - 15) < 3, `half open picks ${mouths[half]!.open.toFixed(1)}`);
  });

  it('holds one frame at rest, and prefers continuing over cutting', () => {
    const rest = { jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 };
    assert.equal(index.best(rest, 5), index.restFrame);
    assert.equal(index.best(rest, 77), index.restFrame);
    const want = { jawOpen: 0.3, lipWidth: 0.5, rounding: 0, closure: 0, teeth: 0, tongue: 0 };
    const first = index.best(want, -1);
    const next = index.best(want, first);
    assert.ok(next === first || next === first + 1, `stays near ${first}, got ${next}`);
  });

  it('plans a run with fewer cuts than frame-by-frame choice, and the same fit', () => {
    const wants = Array.from({ length: 120 }, (_, i) => ({ jawOpen: 0.75 * Math.abs(Math.sin(i / 6)), lipWidth: 0.5, rounding: 0, closure: 0, teeth: 0, tongue: 0 }));
    const planned = index.plan(wants, -1);
    let previous = -1;
    const greedy = wants.map((w) => (previous = index.best(w, previous)));
    const cuts = (path: number[]) => path.slice(1).filter((f, i) => f !== path[i] && f !== path[i]! + 1).length;
    const misfit = (path: number[]) => path.reduce((sum, f, i) => sum + Math.abs(index.target(wants[i]!).open - mouths[f]!.open / 80), 0) / path.length;
    assert.equal(planned.length, wants.length);
    assert.ok(cuts(planned) <= cuts(greedy), `planned ${cuts(planned)} cuts, greedy ${cuts(greedy)}`);
    assert.ok(misfit(planned) < 0.02, `mean openness misfit ${misfit(planned).toFixed(3)}`);
    const rest = { jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 };
    assert.deepEqual(index.plan([rest, rest], 3), [index.restFrame, index.restFrame]);
  });

  it('loops the background forward and backward', () => {
    assert.deepEqual(Array.from({ length: 9 }, (_, i) => pingPong(i, 4)), [0, 1, 2, 3, 2, 1, 0, 1, 2]);
    assert.equal(pingPong(5, 1), 0);
  });
});
