/**
 * `npm run bench`: figures for the text-to-MP4 path on this machine. Prints TTS ms, render
 * FPS, encode FPS, total wall time, and the ratio of total wall time to the encoder floor
 * (ffmpeg alone encoding the same raw frames and audio with the same settings, measured in
 * the same run). Never fails on time: it reports.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { i420FrameBytes } from '../src/core/frame.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { chooseEncoder } from '../src/encode/encoder-probe.js';
import { Mp4FileWriter } from '../src/encode/mp4-writer.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { say } from '../src/say.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { PhonemeMouthTracker } from '../src/visemes/phoneme-track.js';

const SCRIPT_10S = 'Hello, and welcome. I am your digital avatar, drawn and animated on this computer. ' +
  'Everything you see is rendered in real time from the text I speak, with no downloads at all.';
const SENTENCE_5S = 'Hello! I am your digital avatar, and I can speak any text you give me, in several languages.';
const SIZE = 512;
const FPS = 25;
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (v: number, d = 1) => v.toFixed(d);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bench-'));
  try {
    const encoder = await chooseEncoder();
    const tts = new EspeakTtsProvider();
    let t0 = performance.now();
    await tts.warmUp();
    const ttsColdMs = performance.now() - t0;

    // TTS alone (warm).
    const ttsRuns: number[] = [];
    let speech: Speech | undefined;
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      const parts: Speech[] = [];
      for await (const s of tts.synthesize({ text: SCRIPT_10S, language: 'en' })) parts.push(s);
      ttsRuns.push(performance.now() - t0);
      speech = concatSpeech(parts);
    }
    const audioS = speech!.pcm.length / speech!.sampleRate;

    // Rendering alone: every frame into memory.
    const tracker = new PhonemeMouthTracker(FPS);
    tracker.push(speech!);
    tracker.finish();
    const mouthFrames = tracker.takeReady();
    const renderer = new ParametricRenderer(SIZE, SIZE);
    const frames: Uint8Array[] = [];
    for (const f of mouthFrames.slice(0, 25)) renderer.render(f);
    t0 = performance.now();
    for (const f of mouthFrames) frames.push(renderer.render(f).data);
    const renderMs = performance.now() - t0;

    // Encoder floor: ffmpeg alone encoding the same raw frames and audio.
    const floorRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      const writer = await Mp4FileWriter.open({ path: join(dir, 'floor.mp4'), width: SIZE, height: SIZE, fps: FPS, sampleRate: speech!.sampleRate, encoder });
      writer.writeAudio(speech!.pcm);
      writer.endAudio();
      for (const data of frames) await writer.writeFrame({ width: SIZE, height: SIZE, data, ptsMs: 0 });
      await writer.finish();
      floorRuns.push(performance.now() - t0);
    }

    // The whole job, in-process and warm.
    const totalRuns: number[] = [];
    let last;
    for (let i = 0; i < RUNS; i++) {
      last = await say({ text: SCRIPT_10S, output: join(dir, 'say.mp4'), language: 'en', tts, fps: FPS, size: SIZE });
      totalRuns.push(last.totalMs);
    }

    // A 5 s sentence through the CLI, in a fresh process each time (cold start included).
    const cliRuns: number[] = [];
    let cliAudioS = 0;
    const bin = new URL('../../bin/avatar.js', import.meta.url).pathname;
    for (let i = 0; i < RUNS; i++) {
      t0 = performance.now();
      const { stdout } = await promisify(execFile)(process.execPath, [bin, 'say', SENTENCE_5S, '-o', join(dir, 'cli.mp4'), '--json']);
      cliRuns.push(performance.now() - t0);
      cliAudioS = (JSON.parse(stdout) as { audio_s: number }).audio_s;
    }

    const floor = median(floorRuns);
    const total = median(totalRuns);
    const nFrames = frames.length;
    const figures = {
      encoder: encoder.name,
      size: `${SIZE}x${SIZE}`,
      fps: FPS,
      audio_s: Number(fmt(audioS, 2)),
      frames: nFrames,
      frame_bytes: i420FrameBytes(SIZE, SIZE),
      tts_cold_ms: Number(fmt(ttsColdMs)),
      tts_ms: Number(fmt(median(ttsRuns))),
      render_ms_per_frame: Number(fmt(renderMs / nFrames, 3)),
      render_fps: Number(fmt((nFrames * 1000) / renderMs, 0)),
      encoder_floor_ms: Number(fmt(floor)),
      encode_fps: Number(fmt((nFrames * 1000) / floor, 0)),
      total_ms: Number(fmt(total)),
      total_over_floor: Number(fmt(total / floor, 2)),
      realtime_factor: Number(fmt(total / (audioS * 1000), 3)),
      cli_sentence_audio_s: cliAudioS,
      cli_sentence_wall_ms: Number(fmt(median(cliRuns))),
    };
    console.log(`say bench (${RUNS} runs each, medians), ${figures.size} @ ${FPS} fps, encoder ${encoder.name}`);
    console.log(`  script: ${fmt(audioS, 2)} s of speech, ${nFrames} frames`);
    console.log(`  TTS:            cold start ${fmt(ttsColdMs)} ms, warm ${figures.tts_ms} ms`);
    console.log(`  render:         ${figures.render_ms_per_frame} ms/frame (${figures.render_fps} FPS, one core)`);
    console.log(`  encoder floor:  ${figures.encoder_floor_ms} ms (${figures.encode_fps} FPS: ffmpeg alone, same frames and audio)`);
    console.log(`  total (say):    ${figures.total_ms} ms = ${figures.total_over_floor} x encoder floor, realtime factor ${figures.realtime_factor}`);
    console.log(`  CLI, fresh process, ${cliAudioS} s sentence: ${figures.cli_sentence_wall_ms} ms wall`);
    console.log(JSON.stringify(figures));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
