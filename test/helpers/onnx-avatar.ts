import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { i420ToRgb } from '../../src/compose/color-convert.js';
import { frameFileName } from '../../src/avatars/manifest.js';
import { ParametricRenderer } from '../../src/render/parametric/parametric-renderer.js';
import { REST_MOUTH } from '../../src/visemes/mouth-params.js';

/** Face box of the built-in avatar on a 512 grid (forehead to below the chin). */
const FACE_512 = [150, 150, 362, 420] as const;

/**
 * An avatar folder in seed 002's layout: frames/ (the built-in avatar at rest, slight head
 * motion), crop_rects.json, and the model as checkpoint/model_best.onnx when given.
 */
export async function writeSeedLayoutAvatar(dir: string, options: { size?: number; frames?: number; model?: Uint8Array } = {}): Promise<void> {
  const size = options.size ?? 256;
  const count = options.frames ?? 6;
  await mkdir(join(dir, 'frames'), { recursive: true });
  const renderer = new ParametricRenderer(size, size);
  const rects: number[][] = [];
  const scale = size / 512;
  for (let i = 0; i < count; i++) {
    const frame = renderer.render({ index: i * 5, ptsMs: i * 200, speaking: false, mouth: REST_MOUTH });
    await sharp(i420ToRgb(frame.data, size, size), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 92 }).toFile(join(dir, 'frames', frameFileName(i)));
    rects.push(FACE_512.map((v) => Math.round(v * scale)));
  }
  await writeFile(join(dir, 'crop_rects.json'), JSON.stringify(rects));
  if (options.model) {
    await mkdir(join(dir, 'checkpoint'), { recursive: true });
    await writeFile(join(dir, 'checkpoint', 'model_best.onnx'), options.model);
  }
}
