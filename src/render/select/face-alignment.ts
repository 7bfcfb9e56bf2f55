import type { FacePaste } from '../../compose/face-paste.js';
import { applySimilarity, fitSimilarity, invertSimilarity } from '../../compose/similarity.js';
import type { FrameMouth } from '../avatar-input.js';

/** Positions in FaceShape.align (x,y pairs): outer eye corners and the nose bottom. */
const EYE_A = 0;
const EYE_B = 3;
const NOSE_BOTTOM = 7;
/** The paste starts this far from the eye line towards the nose bottom (glasses and eyes stay the background's). */
const TOP_SHARE = 0.55;
/** The jaw outlines are drawn towards the nose bottom by this factor (sideways; a third of it downwards). */
const JAW_INSET = 0.9;
/** Jaw points (of 21) round the chin, which follow the jaw down when the mouth opens. */
const CHIN_POINTS = [5, 15] as const;

/**
 * How to paste donor frame `s` into background frame `b` (both with face shapes): the
 * similarity that maps the background's eye and nose points onto the donor's, and the area
 * below the nose inside both jaw contours (the background's, and the donor's mapped onto
 * the background), whose chins are both the lower of the two.
 */
export function facePaste(b: FrameMouth, s: FrameMouth): FacePaste {
  const bf = b.face!;
  const sf = s.face!;
  const toSource = fitSimilarity(bf.align, sf.align);
  const donorJaw = applySimilarity(invertSimilarity(toSource), sf.jaw);
  const a = bf.align;
  const ex = (a[2 * EYE_A]! + a[2 * EYE_B]!) / 2;
  const ey = (a[2 * EYE_A + 1]! + a[2 * EYE_B + 1]!) / 2;
  const ux = a[2 * EYE_B]! - a[2 * EYE_A]!;
  const uy = a[2 * EYE_B + 1]! - a[2 * EYE_A + 1]!;
  const len = Math.hypot(ux, uy) || 1;
  // "Down" in the head's own frame: perpendicular to the eye line.
  const nx = -uy / len;
  const ny = ux / len;
  const down = (x: number, y: number) => (x - ex) * nx + (y - ey) * ny;
  // Each face's own sides (so neither frame's background is pasted), with the lower of
  // the two chins (an opening jaw is pasted whole; a closing one shows the donor's neck).
  const jaw = [...bf.jaw];
  for (let i = CHIN_POINTS[0]; i <= CHIN_POINTS[1]; i++) {
    const donorLower = down(donorJaw[2 * i]!, donorJaw[2 * i + 1]!) > down(jaw[2 * i]!, jaw[2 * i + 1]!);
    const from = donorLower ? donorJaw : jaw;
    const to = donorLower ? jaw : donorJaw;
    to[2 * i] = from[2 * i]!;
    to[2 * i + 1] = from[2 * i + 1]!;
  }
  const nbx = a[2 * NOSE_BOTTOM]!;
  const nby = a[2 * NOSE_BOTTOM + 1]!;
  // The mesh's outline of a turned head can lie on what is behind it: keep inside it.
  for (const outline of [jaw, donorJaw]) {
    for (let i = 0; i < outline.length; i += 2) {
      outline[i] = nbx + (outline[i]! - nbx) * JAW_INSET;
      outline[i + 1] = nby + (outline[i + 1]! - nby) * (1 - (1 - JAW_INSET) / 3);
    }
  }
  return {
    toSource, polygons: [jaw, donorJaw],
    clip: { x: ex + TOP_SHARE * (nbx - ex), y: ey + TOP_SHARE * (nby - ey), nx, ny },
    feather: Math.max(3, 0.18 * b.width),
  };
}
