import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { DirectProcessLauncher, processLauncher, useProcessLauncher, type ProcessLauncher } from '../src/encode/process-launcher.js';
import { SpawnerProcessLauncher } from '../src/encode/spawner-launcher.js';
import { Mp4FileWriter } from '../src/encode/mp4-writer.js';
import { chooseEncoder } from '../src/encode/encoder-probe.js';
import { tempDir } from './helpers/media.js';

async function readAll(stream: Readable | null | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Parent process id of `pid`, from /proc. */
async function parentOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)/m.exec(status)![1]);
}

const launchers: [string, () => ProcessLauncher][] = [
  ['direct', () => new DirectProcessLauncher()],
  ['spawner process', () => new SpawnerProcessLauncher()],
];

for (const [name, make] of launchers) {
  describe(`process launcher: ${name}`, () => {
    const launcher = make();
    after(() => launcher.close());

    it('pipes bytes in and out, and reports a clean exit', async () => {
      const child = await launcher.launch('/bin/cat', [], { stdio: ['in', 'out', 'out'] });
      const input = Buffer.alloc(300_000, 7);
      child.stdio[0]!.end(input);
      const output = await readAll(child.stdio[1]);
      assert.equal(output.length, input.length);
      assert.ok(output.equals(input));
      assert.deepEqual(await child.closed, { code: 0, signal: null });
    });

    it('loses none of what a child writes the moment it starts', async () => {
      const child = await launcher.launch('/usr/bin/head', ['-c', '2000000', '/dev/zero'], { stdio: ['ignore', 'out', 'out'] });
      const [out, err] = await Promise.all([readAll(child.stdio[1]), readAll(child.stdio[2])]);
      assert.equal(out.length, 2_000_000);
      assert.equal(err.length, 0);
      assert.equal((await child.closed).code, 0);
    });

    it('gives a pipe on descriptor 3, and the exit code', async () => {
      const child = await launcher.launch('/bin/sh', ['-c', 'cat <&3; exit 3'], { stdio: ['ignore', 'out', 'ignore', 'in'] });
      child.stdio[3]!.end('through fd 3');
      assert.equal((await readAll(child.stdio[1])).toString(), 'through fd 3');
      assert.deepEqual(await child.closed, { code: 3, signal: null });
    });

    it('kills on request and says by which signal', async () => {
      const child = await launcher.launch('/bin/sleep', ['30'], { stdio: ['in', 'ignore', 'ignore'] });
      child.kill('SIGKILL');
      assert.deepEqual(await child.closed, { code: null, signal: 'SIGKILL' });
      child.kill('SIGKILL'); // after the exit: nothing, no throw
    });

    it('rejects a program that does not exist', async () => {
      await assert.rejects(launcher.launch('/nonexistent/program', [], { stdio: ['ignore', 'out', 'out'] }), /ENOENT/);
    });

    it('starts the child the niceness asked for below the caller', async () => {
      const child = await launcher.launch('/bin/sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'], niceness: 7 });
      try {
        assert.equal(getPriority(child.pid), Math.min(19, getPriority() + 7));
      } finally {
        child.kill('SIGKILL');
        await child.closed;
      }
    });
  });
}

describe('spawner process', () => {
  it('is the parent of the children, and a new one takes over when it dies', async () => {
    const launcher = new SpawnerProcessLauncher();
    try {
      const first = await launcher.launch('/bin/cat', [], { stdio: ['in', 'out', 'ignore'] });
      const spawnerPid = launcher.spawnerPid!;
      assert.equal(await parentOf(first.pid), spawnerPid);
      assert.notEqual(spawnerPid, process.pid);
      process.kill(spawnerPid, 'SIGKILL');
      // The child outlives the spawner on its pipes; its end is still seen (code unknown).
      first.stdio[0]!.end('still here');
      assert.equal((await readAll(first.stdio[1])).toString(), 'still here');
      assert.equal((await first.closed).code, null);
      const second = await launcher.launch('/bin/echo', ['again'], { stdio: ['ignore', 'out', 'ignore'] });
      assert.notEqual(launcher.spawnerPid, spawnerPid);
      assert.equal((await readAll(second.stdio[1])).toString(), 'again\n');
      assert.equal((await second.closed).code, 0);
    } finally {
      launcher.close();
    }
  });

  it('an MP4 encoded through it is complete, and its ffmpeg is the spawner\'s child', async () => {
    const { dir, cleanup } = await tempDir('avatar-spawner-');
    const launcher = new SpawnerProcessLauncher();
    const before = processLauncher();
    useProcessLauncher(launcher);
    try {
      const encoder = await chooseEncoder(undefined);
      const path = join(dir, 'out.mp4');
      const writer = await Mp4FileWriter.open({ path, width: 64, height: 64, fps: 25, sampleRate: 16000, encoder });
      assert.ok(launcher.spawnerPid);
      writer.writeAudio(new Int16Array(16000));
      writer.endAudio();
      for (let i = 0; i < 25; i++) await writer.writeFrame({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 1.5).fill(i * 8), ptsMs: i * 40 });
      await writer.finish();
      const frames = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', path]).toString().trim();
      assert.equal(frames, '25');
    } finally {
      useProcessLauncher(before);
      await cleanup();
    }
  });
});
