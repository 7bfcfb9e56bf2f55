import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { i420FrameBytes, type VideoFrame } from '../src/core/frame.js';
import type { VideoSink } from '../src/core/video-sink.js';
import { chooseEncoder } from '../src/encode/encoder-probe.js';
import { Fmp4StreamWriter } from '../src/encode/fmp4-stream.js';
import { Mp4FileWriter } from '../src/encode/mp4-writer.js';
import { MemorySink } from '../src/pipeline/memory-sink.js';
import { ffprobe, tempDir } from './helpers/media.js';

/**
 * The VideoSink contract, run against every sink: audio at any rate and frames in order
 * make a complete output of the right length; every frame handed over is released; abort
 * leaves nothing that looks complete.
 */
const W = 64;
const H = 48;
const FPS = 25;

interface SinkUnderTest {
  readonly sink: VideoSink;
  /** Duration of the finished output in ms, and its frame count, as a reader sees them. */
  result(): Promise<{ frames: number; durationMs: number }>;
  /** True when an aborted output left nothing that looks complete. */
  abortedCleanly(): Promise<boolean>;
}

type SinkMaker = (dir: string) => Promise<SinkUnderTest>;

const makers: Record<string, SinkMaker> = {
  'MP4 file': async (dir) => {
    const path = join(dir, 'out.mp4');
    const sink = await Mp4FileWriter.open({ path, width: W, height: H, fps: FPS, sampleRate: 16000, encoder: await chooseEncoder() });
    return {
      sink,
      async result() {
        const probe = await ffprobe(path);
        const video = probe.streams.find((s) => s.codec_type === 'video')!;
        return { frames: Number(video.nb_frames), durationMs: Number(probe.format.duration) * 1000 };
      },
      async abortedCleanly() {
        const left = await readdir(dir);
        return left.length === 0 && (await access(path).then(() => false, () => true));
      },
    };
  },
  'fMP4 stream': async (dir) => {
    const sink = await Fmp4StreamWriter.open({ width: W, height: H, fps: FPS, sampleRate: 22050, encoder: await chooseEncoder() });
    const chunks: Buffer[] = [];
    const ended = new Promise<boolean>((resolve) => {
      sink.output.on('data', (c: Buffer) => chunks.push(c));
      sink.output.on('end', () => resolve(true));
      sink.output.on('close', () => resolve(false));
      sink.output.on('error', () => resolve(false));
    });
    return {
      sink,
      async result() {
        await ended;
        const path = join(dir, 'stream.mp4');
        const { writeFile } = await import('node:fs/promises');
        await writeFile(path, Buffer.concat(chunks));
        const probe = await ffprobe(path);
        const video = probe.streams.find((s) => s.codec_type === 'video')!;
        const { execFile } = await import('node:child_process');
        // Fragmented MP4 states no frame count in its header: count the decoded frames.
        const frames = await new Promise<number>((resolve, reject) => execFile('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', path], (e, out) => (e ? reject(e) : resolve(Number(out.trim())))));
        return { frames, durationMs: Number(video.duration ?? probe.format.duration) * 1000 };
      },
      async abortedCleanly() {
        // The reader sees the stream end without a normal finish (never a clean 'end' after abort).
        return !(await ended) || chunks.length === 0;
      },
    };
  },
  memory: async () => {
    const sink = new MemorySink();
    return {
      sink,
      result: () => Promise.resolve({ frames: sink.frames, durationMs: ((sink.audio.length * 1000) / sink.sampleRate!) }),
      abortedCleanly: () => Promise.resolve(sink.state === 'aborted'),
    };
  },
};

/** A frame of flat grey whose release is counted. */
function countedFrame(index: number, released: Set<number>): VideoFrame {
  const data = new Uint8Array(i420FrameBytes(W, H)).fill(16 + ((index * 7) % 200));
  return { width: W, height: H, data, ptsMs: (index * 1000) / FPS, release: () => released.add(index) };
}

function tone(ms: number, rate: number): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / rate)));
}

for (const [name, make] of Object.entries(makers)) {
  describe(`VideoSink contract: ${name}`, () => {
    it('takes audio at its own rate and frames in order, and finishes into a complete output of their length', async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const under = await make(dir);
        const released = new Set<number>();
        const rate = 16000;
        // 2 s of audio in two parts, 50 frames.
        under.sink.writeAudio(tone(1000, rate), rate);
        for (let i = 0; i < 25; i++) await under.sink.writeFrame(countedFrame(i, released));
        under.sink.writeAudio(tone(1000, rate), rate);
        for (let i = 25; i < 50; i++) await under.sink.writeFrame(countedFrame(i, released));
        assert.equal(under.sink.frames, 50);
        await under.sink.finish();
        const { frames, durationMs } = await under.result();
        assert.equal(frames, 50);
        assert.ok(Math.abs(durationMs - 2000) <= 1000 / FPS + 30, `duration ${durationMs} ms, expected 2000`);
        assert.equal(released.size, 50, 'every frame handed over is released');
      } finally {
        await cleanup();
      }
    });

    it('converts audio at another rate to its own without changing its length (the memory sink refuses it instead)', async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const under = await make(dir);
        under.sink.writeAudio(tone(200, 16000), 16000);
        if (under.sink instanceof MemorySink) {
          assert.throws(() => under.sink.writeAudio(tone(800, 48000), 48000), /one audio rate/);
          return;
        }
        under.sink.writeAudio(tone(800, 48000), 48000);
        for (let i = 0; i < 25; i++) await under.sink.writeFrame(countedFrame(i, new Set()));
        await under.sink.finish();
        const { durationMs } = await under.result();
        assert.ok(Math.abs(durationMs - 1000) <= 1000 / FPS + 30, `duration ${durationMs} ms, expected 1000`);
      } finally {
        await cleanup();
      }
    });

    it('abort discards what is incomplete, and may be called again', async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const under = await make(dir);
        under.sink.writeAudio(tone(500, 16000), 16000);
        for (let i = 0; i < 5; i++) await under.sink.writeFrame(countedFrame(i, new Set()));
        await under.sink.abort();
        await under.sink.abort();
        assert.ok(await under.abortedCleanly(), 'nothing that looks complete is left');
      } finally {
        await cleanup();
      }
    });
  });
}
