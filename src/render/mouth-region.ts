import type { Box } from '../core/geometry.js';
import type { FrameMouth } from './avatar-input.js';

/** Analysis box around a mouth: a little wider than the lips, down past the lower lip. */
export function regionAround(m: FrameMouth, width: number, height: number): Box {
  const even = (v: number) => Math.round(v / 2) * 2;
  const w = even(m.width * 1.6);
  const h = even(Math.max(m.width * 0.9, (m.chinY - m.cy) * 0.9));
  const x = Math.max(0, Math.min(width - w, even(m.cx - w / 2)));
  const y = Math.max(0, Math.min(height - h, even(m.cy - h * 0.35)));
  return [x, y, Math.min(w, width), Math.min(h, height)];
}
