import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { EvalReport } from '../src/eval/result.js';
import { avatarCli, tempDir } from './helpers/media.js';

/** The real media folder (CI has it at ../shared/media; see its README). */
const MEDIA = process.env.AVATAR_MEDIA_DIR ?? resolve('..', 'shared', 'media');

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-eval-real-')));
after(() => cleanup());

describe('avatar eval --suite real (real people, real speech)', () => {
  let report: EvalReport;
  let out = '';
  let stderr = '';
  before(async () => {
    await access(MEDIA).catch(() => assert.fail(`the real media folder ${MEDIA} is missing (set AVATAR_MEDIA_DIR)`));
    out = join(dir, 'real');
    const started = Date.now();
    const r = await avatarCli(['eval', '--suite', 'real', '--media', MEDIA, '--out', out, '--json'], {}, 600000);
    stderr = r.stderr;
    report = JSON.parse(r.stdout) as EvalReport;
    process.stderr.write(`real suite: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  it('passes every scenario: sync within one frame with the mouth found by the face mesh, no ghosting, no colour from nowhere', () => {
    assert.equal(report.suite, 'real');
    for (const s of report.scenarios) assert.equal(s.status, 'passed', `${s.id}: ${s.reason ?? ''} ${JSON.stringify(s.checks)}\n${stderr}`);
  });

  it('measures the seam/ghost score and finds the mouth on every rendered scenario', () => {
    const rendered = report.scenarios.filter((s) => s.analysis);
    assert.ok(rendered.length >= 5, `${rendered.length} scenarios rendered`);
    for (const s of rendered) {
      assert.ok(s.ghost && s.ghost.frames > 20, `${s.id}: ghost figures over its frames`);
      assert.ok(s.mouthRegion && s.mouthRegion[2]! >= 8, `${s.id}: a mouth box`);
    }
  });

  it('refuses the profile photo with its reason', () => {
    const refused = report.scenarios.find((s) => s.id === 'profile-refused');
    assert.match(refused?.reason ?? '', /refused as expected: .*(yaw|profile|turned)/);
  });

  it('shows a frame strip per rendered scenario in the HTML report', async () => {
    const html = await readFile(join(out, 'index.html'), 'utf8');
    for (const s of report.scenarios.filter((x) => x.analysis)) {
      assert.ok(s.strip, `${s.id} has a strip`);
      const meta = await sharp(join(out, s.strip)).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(meta.width! >= 6 * 200 && meta.height! >= 2 * 100, `${s.id}: strip ${meta.width}x${meta.height} holds two rows of six frames`);
      assert.ok(html.includes(`<img src="${s.strip}"`), `${s.id}: strip shown in the report`);
    }
  });
});
