import { i420FrameBytes, type YuvColor } from '../../core/frame.js';
import { clamp01, smoothstep } from '../pixel-math.js';
import { bezierStroke, bounded, ellipse, YuvaLayer, type Coverage } from './layer.js';
import { DESIGN, FaceLayout, PALETTE } from './face-design.js';

const mix = (a: YuvColor, b: YuvColor, t: number): YuvColor => ({ y: a.y + (b.y - a.y) * t, u: a.u + (b.u - a.u) * t, v: a.v + (b.v - a.v) * t });

/**
 * Paints everything that does not move with speech or blinks: background, torso, neck,
 * hair, head, ears, brows, nose and cheeks. Eyes and mouth are left as bare skin; they are
 * painted per frame. Returns an I420 image.
 */
export function paintBase(layout: FaceLayout): Uint8Array {
  const { width, height } = layout;
  const L = layout;
  const layer = new YuvaLayer(0, 0, width, height);
  const D = DESIGN;

  layer.paint(() => 1, (_x, y) => mix(PALETTE.backgroundTop, PALETTE.backgroundBottom, clamp01(y / height)));
  // A soft halo behind the head lifts it from the background.
  layer.paint(ellipse(L.x(256), L.y(250), L.len(230), L.len(230), L.len(120)), PALETTE.white, 0.18);

  const torso = ellipse(L.x(D.torso.cx), L.y(D.torso.cy), L.len(D.torso.rx), L.len(D.torso.ry));
  layer.paint(torso, (x) => mix(PALETTE.shirt, PALETTE.shirtShadow, clamp01(Math.abs(x - L.x(256)) / L.len(240))));
  const neckCov = bounded((x, y) =>
    clamp01(x - L.x(D.neck.x0) + 0.5) * clamp01(L.x(D.neck.x1) - x + 0.5) * clamp01(y - L.y(D.neck.y0)) * clamp01(L.y(D.neck.y1) - y),
  [L.x(D.neck.x0) - 1, L.y(D.neck.y0) - 1, L.x(D.neck.x1) + 1, L.y(D.neck.y1) + 1]);
  layer.paint(neckCov, (_x, y) => mix(PALETTE.skinShadow, PALETTE.skin, smoothstep(L.y(400), L.y(460), y)));
  // V-neck collar cut into the shirt.
  const collar = bounded((x, y) => {
    const depth = L.y(505) - Math.abs(x - L.x(256)) * 1.4;
    return clamp01(depth - y + 0.5) * clamp01(y - L.y(452));
  }, [L.x(D.neck.x0), L.y(450), L.x(D.neck.x1), L.y(506)]);
  layer.paint(collar, PALETTE.skin);

  const hairBack = ellipse(L.x(D.hairBack.cx), L.y(D.hairBack.cy), L.len(D.hairBack.rx), L.len(D.hairBack.ry));
  layer.paint(bounded((x, y) => hairBack(x, y) * clamp01(L.y(D.hairBack.cutY) - y), hairBack.box!), PALETTE.hair);

  for (const side of [-1, 1]) {
    layer.paint(ellipse(L.x(D.head.cx + side * D.ears.dx), L.y(D.ears.cy), L.len(D.ears.rx), L.len(D.ears.ry)), PALETTE.skinShadow);
    layer.paint(ellipse(L.x(D.head.cx + side * (D.ears.dx - 2)), L.y(D.ears.cy), L.len(D.ears.rx - 5), L.len(D.ears.ry - 7)), PALETTE.skin);
  }

  const head = headCoverage(L);
  const chinShadow = headCoverage(L, L.len(8));
  // Shadow under the chin on the neck, then the head itself.
  layer.paint((x, y) => chinShadow(x, y - L.len(9)) * clamp01(y - L.y(380)), PALETTE.skinShadow, 0.6, [L.x(130), L.y(370), L.x(382), L.y(420)]);
  layer.paint(head, PALETTE.skin);

  // Fringe: hair covers the head above a slanted, wavy hairline.
  const fringe = bounded((x, y) => {
    const u = (x - L.x(256)) / L.len(D.head.rx);
    const line = L.y(D.fringe.y) + L.len(D.fringe.depth) * (0.5 - D.fringe.tilt * u) + L.len(6) * Math.sin(u * 7);
    return head(x, y) * clamp01(line - y + 0.5);
  }, [head.box![0], head.box![1], head.box![2], L.y(D.fringe.y + D.fringe.depth + 8)]);
  layer.paint(fringe, PALETTE.hair);
  layer.paint(bezierStroke([L.x(175), L.y(150)], [L.x(230), L.y(118)], [L.x(300), L.y(128)], () => L.len(3)), PALETTE.hairHighlight, 0.5);

  for (const side of [-1, 1]) {
    const b = D.brows;
    const x0 = D.head.cx + side * (b.dx - b.halfLength);
    const x1 = D.head.cx + side * (b.dx + b.halfLength);
    layer.paint(
      bezierStroke([L.x(x0), L.y(b.y + 2)], [L.x((x0 + x1) / 2), L.y(b.y - b.arch)], [L.x(x1), L.y(b.y + 4)], (t) => L.len(b.thickness * (1 - 0.45 * t))),
      PALETTE.brow,
    );
    const c = D.cheeks;
    layer.paint(ellipse(L.x(D.head.cx + side * c.dx), L.y(c.cy), L.len(c.rx), L.len(c.ry), L.len(12)), PALETTE.blush, 0.45);
    // Eye sockets: a faint shadow that the per-frame eyes sit in.
    const e = D.eyes;
    layer.paint(ellipse(L.x(D.head.cx + side * e.dx), L.y(e.cy - 2), L.len(e.rx + 6), L.len(e.ry + 6), L.len(6)), PALETTE.skinShadow, 0.35);
  }

  const n = D.nose;
  layer.paint(bezierStroke([L.x(n.cx - 4), L.y(258)], [L.x(n.cx - 9), L.y(288)], [L.x(n.cx - 2), L.y(n.cy + 4)], () => L.len(1.6)), PALETTE.skinShadow, 0.8);
  layer.paint(ellipse(L.x(n.cx), L.y(n.cy + 3), L.len(15), L.len(7), L.len(4)), PALETTE.skinShadow, 0.55);
  layer.paint(ellipse(L.x(n.cx + 3), L.y(n.cy - 4), L.len(6), L.len(4), L.len(3)), PALETTE.white, 0.25);

  const out = new Uint8Array(i420FrameBytes(width, height));
  layer.compositeInto(out, width, height);
  return out;
}

/** Coverage of the head: an ellipse whose lower half narrows towards the chin. */
export function headCoverage(L: FaceLayout, feather = 1): Coverage {
  const h = DESIGN.head;
  const cx = L.x(h.cx);
  const cy = L.y(h.cy);
  const rx0 = L.len(h.rx);
  const ry = L.len(h.ry);
  const iry2 = 1 / (ry * ry);
  return bounded((x, y) => {
    const t = clamp01((y - cy) / ry);
    const rx = rx0 * (1 - h.chinNarrowing * t * t);
    const irx2 = 1 / (rx * rx);
    const dx = x - cx;
    const dy = y - cy;
    const f = dx * dx * irx2 + dy * dy * iry2 - 1;
    const g = 2 * Math.sqrt(dx * dx * irx2 * irx2 + dy * dy * iry2 * iry2) || 1e-6;
    return clamp01(0.5 - f / g / feather);
  }, [cx - rx0 - feather - 1, cy - ry - feather - 1, cx + rx0 + feather + 1, cy + ry + feather + 1]);
}
