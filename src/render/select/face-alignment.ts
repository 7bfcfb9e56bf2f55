import type { FacePaste } from '../../compose/face-paste.js';
import { applySimilarity, fitSimilarity, invertSimilarity, type Similarity } from '../../compose/similarity.js';
import type { FrameMouth } from '../avatar-input.js';

/** Positions in FaceShape.align (x,y pairs): outer eye corners and the nose bottom. */
const EYE_A = 0;
const EYE_B = 3;
const NOSE_BOTTOM = 7;
/** The paste starts this far from the eye line towards the nose bottom (glasses and eyes stay the background's). */
const TOP_SHARE = 0.55;
/** The jaw outlines are drawn towards the nose bottom by this factor (sideways; a third of it downwards). */
const JAW_INSET = 0.9;
/** The chin of the pasted area lies this share of the nose-to-chin height below the lower chin. */
const CHIN_MARGIN = 0;
/**
 * The mouth zone (where the donor shows unchanged), in mouth widths: half-width, half-height,
 * and how far its centre lies below the lip corners (a wide-open mouth opens downwards).
 */
const ZONE_WIDTH = 0.62;
const ZONE_HEIGHT = 0.55;
const ZONE_BELOW = 0.15;
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
  const toSource = snapped(fitSimilarity(bf.align, sf.align), b.cx, b.cy);
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
  // Below the chin by a margin, so the background's own chin never shows beneath the donor's
  // (the background person talks too: a jaw moving there would move in silence).
  const margin = CHIN_MARGIN * Math.max(1, down(jaw[2 * 10]!, jaw[2 * 10 + 1]!) - down(nbx, nby));
  for (const outline of [jaw, donorJaw]) {
    for (let i = CHIN_POINTS[0]; i <= CHIN_POINTS[1]; i++) {
      const k = 1 - Math.abs(i - 10) / (10 - CHIN_POINTS[0] + 1);
      outline[2 * i] = outline[2 * i]! + nx * margin * k;
      outline[2 * i + 1] = outline[2 * i + 1]! + ny * margin * k;
    }
  }
  // The mesh's outline of a turned head can lie on what is behind it: keep inside it.
  for (const outline of [jaw, donorJaw]) {
    for (let i = 0; i < outline.length; i += 2) {
      outline[i] = nbx + (outline[i]! - nbx) * JAW_INSET;
      outline[i + 1] = nby + (outline[i + 1]! - nby) * (1 - (1 - JAW_INSET) / 3);
    }
  }
  // The donor shows as it is over the lips and whatever an open mouth shows between them.
  const zoneDown = ZONE_BELOW * b.width;
  return {
    toSource, polygons: [jaw, donorJaw],
    clip: { x: ex + TOP_SHARE * (nbx - ex), y: ey + TOP_SHARE * (nby - ey), nx, ny },
    feather: Math.max(3, 0.18 * b.width),
    mouthZone: { cx: b.cx + nx * zoneDown, cy: b.cy + ny * zoneDown, rx: ZONE_WIDTH * b.width, ry: ZONE_HEIGHT * b.width, nx, ny },
  };
}

/** Below this rotation (radians, about) and scale change a donor is only moved, by whole pixels. */
const SNAP = 0.03;

/**
 * A similarity with the donor's rotation and scale within SNAP of the background's taken
 * as a whole-pixel translation (the one it gives the mouth centre at (x, y)): the donor is
 * copied, not resampled, so a still mouth keeps
 * every pixel from frame to frame instead of shimmering through sub-pixel resampling.
 */
function snapped(t: Similarity, x: number, y: number): Similarity {
  if (Math.abs(t.a - 1) >= SNAP || Math.abs(t.b) >= SNAP) return t;
  // The translation that the fitted transform gives the mouth centre, rounded.
  const [mx, my] = applySimilarity(t, [x, y]);
  return { a: 1, b: 0, tx: Math.round(mx! - x), ty: Math.round(my! - y) };
}
