import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { prepareAvatar } from '../avatars/prepare.js';
import { i420ToRgb } from '../compose/color-convert.js';
import { ParametricRenderer } from '../render/parametric/parametric-renderer.js';
import { say } from '../say.js';
import { REST_MOUTH } from '../visemes/mouth-params.js';

/**
 * Avatars the evaluator can build for itself, so that the `warp` and `select` renderers are
 * measured on any machine without anyone's photo or video: `photo` is the built-in avatar at
 * rest as a JPEG, `video` is the built-in avatar speaking, both run through `prepare`.
 */
export const FIXTURE_AVATARS = ['photo', 'video'] as const;
export type FixtureAvatar = (typeof FIXTURE_AVATARS)[number];

const VIDEO_TEXT = 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. Peter Piper picked a peck of pickled peppers.';

/** True for the ids this module can build. */
export function isFixtureAvatar(id: string): id is FixtureAvatar {
  return (FIXTURE_AVATARS as readonly string[]).includes(id);
}

/** Builds the fixture avatar `id` in `dir` unless it is there already; returns true if built. */
export async function ensureFixtureAvatar(dir: string, id: FixtureAvatar, log: (line: string) => void = () => undefined): Promise<boolean> {
  if (await stat(join(dir, id, 'avatar.json')).then(() => true, () => false)) return false;
  await mkdir(dir, { recursive: true });
  const work = join(dir, `.${id}-source-${process.pid}`);
  await mkdir(work, { recursive: true });
  try {
    log(`building fixture avatar "${id}" from the built-in avatar in ${dir}`);
    let input: string;
    if (id === 'photo') {
      input = join(work, 'photo.jpg');
      const rest = new ParametricRenderer(512, 512).render({ index: 0, ptsMs: 0, speaking: false, mouth: REST_MOUTH });
      await sharp(i420ToRgb(rest.data, 512, 512), { raw: { width: 512, height: 512, channels: 3 } }).jpeg({ quality: 92 }).toFile(input);
    } else {
      input = join(work, 'video.mp4');
      await say({ text: VIDEO_TEXT, output: input, language: 'en' });
    }
    await prepareAvatar({ input, name: id, outputDir: dir, fps: 25 });
    return true;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
