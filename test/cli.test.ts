import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { avatarCli, ffprobe, tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

/** Asserts that a failed run left nothing behind in the folder (no output, no temporary file). */
async function assertNoOutput(name: string): Promise<void> {
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes(name)), []);
}

describe('avatar CLI', () => {
  it('say --json prints the timings and writes a playable MP4', async () => {
    const output = join(dir, 'hello.mp4');
    const { code, stdout, stderr } = await avatarCli(['say', 'Hello! I am your digital avatar.', '-o', output, '--json']);
    assert.equal(code, 0, stderr);
    const figures = JSON.parse(stdout) as Record<string, unknown>;
    for (const key of ['tts_ms', 'render_ms', 'encode_ms', 'total_ms', 'audio_s', 'realtime_factor']) {
      assert.equal(typeof figures[key], 'number', key);
    }
    assert.equal(figures.encoder, 'libx264');
    const { streams } = await ffprobe(output);
    assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  });

  it('reads --text-file and shows progress for long scripts', async () => {
    const file = join(dir, 'script.txt');
    await writeFile(file, 'One sentence here. Another one there. A third one. And a fourth.');
    const { code, stderr } = await avatarCli(['say', '--text-file', file, '-o', join(dir, 'script.mp4')]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /rendering: 4\/4 sentences \(100%\)/);
    assert.match(stderr, /wrote .*script\.mp4/);
  });

  const failures: [string, string[], number, RegExp, NodeJS.ProcessEnv?][] = [
    ['empty text', ['say', '   ', '-o', 'empty.mp4'], 2, /nothing to say/],
    ['unknown language', ['say', 'hi', '--lang', 'klingon', '-o', 'lang.mp4'], 2, /unknown language "klingon"/],
    ['unknown voice', ['say', 'hi', '--voice', 'nobody', '-o', 'voice.mp4'], 2, /unknown voice "nobody"/],
    ['unknown avatar', ['say', 'hi', '--avatar', 'ghost', '-o', 'ghost.mp4'], 2, /unknown avatar "ghost"/],
    ['avatar id that is a path', ['say', 'hi', '--avatar', '../etc', '-o', 'path.mp4'], 2, /avatar id/],
    ['bad fps', ['say', 'hi', '--fps', '500', '-o', 'fps.mp4'], 2, /fps must be/],
    ['bad size', ['say', 'hi', '--size', '13x7', '-o', 'size.mp4'], 2, /size/],
    ['unknown encoder', ['say', 'hi', '--encoder', 'h264_magic', '-o', 'enc.mp4'], 2, /unknown encoder/],
    ['missing text file', ['say', '--text-file', '/nonexistent/script.txt', '-o', 'tf.mp4'], 2, /cannot read --text-file/],
    ['unknown option', ['say', 'hi', '--colour', 'red'], 2, /Unknown option/],
    ['unknown command', ['dance'], 2, /unknown command "dance"/],
    ['ffmpeg missing', ['say', 'hi', '-o', 'noff.mp4'], 4, /does not run as ffmpeg/, { AVATAR_FFMPEG: '/nonexistent/ffmpeg' }],
  ];
  for (const [name, args, exit, message, env] of failures) {
    it(`fails cleanly on ${name}`, async () => {
      const fixed = args.map((a) => (a.endsWith('.mp4') ? join(dir, a) : a));
      const { code, stderr } = await avatarCli(fixed, env);
      assert.equal(code, exit, stderr);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace for expected errors');
      const out = fixed.find((a) => a.endsWith('.mp4'));
      if (out) await assertNoOutput(out.split('/').pop()!);
    });
  }

  it('fails cleanly on an unwritable output, leaving nothing behind', async () => {
    const { code, stderr } = await avatarCli(['say', 'hi', '-o', '/nonexistent-dir/out.mp4']);
    assert.equal(code, 3);
    assert.match(stderr, /cannot write/);
    // A file where a folder should be, and a folder where the file should be.
    await writeFile(join(dir, 'plain-file'), 'x');
    const underFile = await avatarCli(['say', 'hi', '-o', join(dir, 'plain-file', 'out.mp4')]);
    assert.equal(underFile.code, 3, underFile.stderr);
    await mkdir(join(dir, 'taken.mp4'));
    const onFolder = await avatarCli(['say', 'hi', '-o', join(dir, 'taken.mp4')]);
    assert.equal(onFolder.code, 3, onFolder.stderr);
    assert.match(onFolder.stderr, /is a directory/);
    assert.deepEqual(await readdir(join(dir, 'taken.mp4')), [], 'nothing written into the folder');
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('taken.mp4') || f.startsWith('out.mp4') || f.startsWith('.taken')), ['taken.mp4'], 'no temporary file left');
  });

  it('fails cleanly when ffmpeg fails mid-encode, leaving no partial file', async () => {
    // An ffmpeg that answers version and probe questions but dies while encoding the MP4.
    const fake = join(dir, 'broken-ffmpeg.sh');
    await writeFile(fake, `#!/bin/sh\ncase "$*" in *movflags*) echo "disk on fire" >&2; exit 1;; esac\nexec ffmpeg "$@"\n`);
    await chmod(fake, 0o755);
    const { code, stderr } = await avatarCli(['say', 'hello there', '-o', join(dir, 'broken.mp4')], { AVATAR_FFMPEG: fake, XDG_CACHE_HOME: join(dir, 'cache') });
    assert.equal(code, 5, stderr);
    assert.match(stderr, /ffmpeg failed.*disk on fire/);
    await assertNoOutput('broken.mp4');
  });

  it('lists voices, optionally for one language', async () => {
    const all = await avatarCli(['voices']);
    assert.equal(all.code, 0);
    assert.match(all.stdout, /^en-us\s/m);
    assert.match(all.stdout, /^cmn\s/m);
    const zh = await avatarCli(['voices', '--lang', 'zh']);
    assert.match(zh.stdout, /^cmn\s/m);
    assert.doesNotMatch(zh.stdout, /^en-us\s/m);
  });

  it('prints help and version', async () => {
    const help = await avatarCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /avatar say TEXT/);
    const version = await avatarCli(['--version']);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });
});
