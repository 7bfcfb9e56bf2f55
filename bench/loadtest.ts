/**
 * `npm run loadtest`: N realtime sessions for T seconds plus M concurrent streamed
 * generations against a server, then the figures: frames on time (over the whole run, and in
 * steady state once every session has joined), frame interval p50/p95,
 * first speaking frame after `speak` p50/p95, first bytes of /generate/stream, and the
 * server's CPU and RSS over time (from its /metrics). Starts its own `avatar serve` unless
 * --url is given. Reports; never fails on time.
 *
 *   npm run loadtest -- --sessions 12 --seconds 30 --generate 1 [--size 512] [--fps 25]
 *                       [--pause-ms 1000] [--url http://host:port --key KEY]
 *                       [--upload-video SECONDS] [--transport websocket|webrtc] [--codec vp8|h264]
 *
 * `--transport webrtc` runs each session as a WebRTC peer in this process (werift, VP8 +
 * Opus through POST /api/v1/realtime/webrtc, control on the data channel; `--codec h264`
 * offers H.264 instead) and adds the video bitrate per session.
 *
 * `--queue` runs the queue load test instead (bench/queue-load.ts: jobs against worker
 * processes on Redis, a long script with 1 and 2 workers, its stream).
 *
 * `--upload-video S` uploads a talking video of about S seconds as a new avatar two seconds
 * in, so the figures show what preparing it (face mesh on every frame) costs live sessions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { readFile } from 'node:fs/promises';
import { RealtimeClient, type WebSocketConstructor } from '../src/client/realtime-client.js';
import { say } from '../src/say.js';
import { runWebRtcSession } from './webrtc-load-session.js';

if (process.argv.includes('--queue')) {
  const { runQueueLoad } = await import('./queue-load.js');
  process.exit(await runQueueLoad(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`loadtest: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }));
}

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '30' },
    generate: { type: 'string', default: '1' },
    size: { type: 'string', default: '512' },
    fps: { type: 'string', default: '25' },
    'pause-ms': { type: 'string', default: '1000' },
    url: { type: 'string' },
    key: { type: 'string' },
    'upload-video': { type: 'string', default: '0' },
    transport: { type: 'string', default: 'websocket' },
    codec: { type: 'string', default: 'vp8' },
  },
});
const SESSIONS = Number(values.sessions);
const SECONDS = Number(values.seconds);
const GENERATE = Number(values.generate);
const FPS = Number(values.fps);
const FRAME_MS = 1000 / FPS;
const PAUSE_MS = Number(values['pause-ms']);
const LINES = [
  'Hello, and welcome. How can I help you today?',
  'The weather is lovely, and the forecast says it will stay that way.',
  'Please tell me more about what you are looking for.',
  'I can speak any text you type, in several languages.',
];

const percentile = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]! : NaN);
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');

interface SessionFigures {
  arrivals: { index: number; at: number; ptsMs: number }[];
  firstFrame: number[];
  errors: string[];
  /** WebRTC: video payload bytes received and over how long. */
  videoBytes?: number;
  seconds?: number;
}

async function runSession(wsUrl: string, until: number, stagger: number): Promise<SessionFigures> {
  const figures: SessionFigures = { arrivals: [], firstFrame: [], errors: [] };
  let askedAt: number | undefined;
  const client = await RealtimeClient.connect(wsUrl, {
    onFrame: (f) => {
      const at = performance.now();
      figures.arrivals.push({ index: f.index, at, ptsMs: f.ptsMs });
      if (f.speaking && askedAt !== undefined) {
        figures.firstFrame.push(at - askedAt);
        askedAt = undefined;
      }
    },
    onEvent: (e) => {
      if (e.type === 'error') figures.errors.push(e.message);
    },
  }, WebSocket as unknown as WebSocketConstructor);
  await sleep(stagger);
  let line = Math.floor(Math.random() * LINES.length);
  while (performance.now() < until) {
    askedAt = performance.now();
    client.speak(LINES[line++ % LINES.length]!);
    await client.waitFor('speech.ended', () => true, 30000).catch(() => undefined);
    await sleep(PAUSE_MS);
  }
  client.close();
  return figures;
}

async function runGenerator(baseUrl: string, headers: Record<string, string>, until: number): Promise<{ firstBytes: number[]; totals: number[]; failures: number }> {
  const out = { firstBytes: [] as number[], totals: [] as number[], failures: 0 };
  while (performance.now() < until) {
    const t0 = performance.now();
    try {
      const response = await fetch(`${baseUrl}/api/v1/generate/stream`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ text: LINES[out.totals.length % LINES.length], size: Number(values.size) }),
      });
      if (!response.ok || !response.body) throw new Error(String(response.status));
      const reader = response.body.getReader();
      let first = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first && value.length) {
          out.firstBytes.push(performance.now() - t0);
          first = false;
        }
      }
      out.totals.push(performance.now() - t0);
    } catch {
      out.failures++;
      await sleep(500);
    }
  }
  return out;
}

async function scrape(baseUrl: string): Promise<{ cpuS: number; rss: number; fps: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { cpuS: read('process_cpu_seconds_total'), rss: read('process_resident_memory_bytes'), fps: read('avatar_frames_per_second') };
}

/**
 * Where the first speaking frame's time goes on the server, from its histograms (means over
 * the run): speak -> first synthesized speech, -> first speaking frame handed to the
 * transport, and (WebRTC) each frame's encoder delay to its first RTP packet.
 */
async function serverLatencies(baseUrl: string): Promise<string> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const mean = (name: string) => {
    const sum = [...text.matchAll(new RegExp(`^${name}_sum(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const count = [...text.matchAll(new RegExp(`^${name}_count(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    return count ? `${fmt((1000 * sum) / count)} ms (${count})` : '-';
  };
  return [
    'server, means: speak -> first speech synthesized      ' + mean('avatar_tts_latency_seconds'),
    '               speak -> first speaking frame sent    ' + mean('avatar_first_frame_latency_seconds'),
    '               frame -> its first RTP packet (WebRTC) ' + mean('avatar_webrtc_encode_delay_seconds'),
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function startServer(): Promise<{ url: string; child: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'avatar-loadtest-'));
  const child = spawn(process.execPath, [new URL('../../bin/avatar.js', import.meta.url).pathname, 'serve', '--port', '0', '--avatars-dir', join(dataDir, 'avatars')], {
    env: { ...process.env, AVATAR_DATA_DIR: dataDir, AVATAR_RATE_LIMIT: '100000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && /avatar upload/.test(out)) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`avatar serve exited (${code}): ${out}`)));
  });
  return { url, child, dataDir };
}

async function main(): Promise<void> {
  const own = values.url ? undefined : await startServer();
  const baseUrl = values.url ?? own!.url;
  const headers: Record<string, string> = values.key ? { authorization: `Bearer ${values.key}` } : {};
  const wsUrl = `${baseUrl.replace(/^http/, 'ws')}/api/v1/realtime?avatar=default&size=${values.size}&fps=${FPS}${values.key ? `&api_key=${values.key}` : ''}`;
  process.stdout.write(`loadtest: ${SESSIONS} realtime sessions (${values.transport}) at ${values.size}px ${FPS} fps for ${SECONDS} s (speak, wait for the end, pause ${PAUSE_MS} ms, repeat) + ${GENERATE} concurrent streamed generations, against ${baseUrl}\n`);
  const uploadS = Number(values['upload-video']);
  const video = uploadS > 0 ? await talkingVideo(uploadS) : undefined;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  const samples: { t: number; cpuS: number; rss: number; fps: number }[] = [];
  const sampler = (async () => {
    while (performance.now() < until + 500) {
      samples.push({ t: (performance.now() - start) / 1000, ...(await scrape(baseUrl).catch(() => ({ cpuS: NaN, rss: NaN, fps: NaN }))) });
      await sleep(2000);
    }
  })();
  const upload = video ? uploadDuringRun(baseUrl, headers, video) : undefined;
  const rtcUrl = `${baseUrl}/api/v1/realtime/webrtc?avatar=default&size=${values.size}&fps=${FPS}`;
  const sessions = Array.from({ length: SESSIONS }, (_, i) => (values.transport === 'webrtc'
    ? runWebRtcSession(rtcUrl, headers, until, (i * 1000) / Math.max(1, SESSIONS), LINES, PAUSE_MS, FPS, values.codec === 'h264' ? 'h264' : 'vp8')
    : runSession(wsUrl, until, (i * 1000) / Math.max(1, SESSIONS))));
  const generators = Array.from({ length: GENERATE }, () => runGenerator(baseUrl, headers, until));
  // Arrival times are taken on this process's event loop: its own delays add to the lateness measured.
  const ownDelay = monitorEventLoopDelay({ resolution: 5 });
  ownDelay.enable();
  const results = await Promise.all(sessions);
  ownDelay.disable();
  const gens = await Promise.all(generators);
  const prepared = await upload;
  await sampler;
  const breakdown = await serverLatencies(baseUrl).catch(() => undefined);
  if (video) rmSync(video.dir, { recursive: true, force: true });
  if (own) {
    own.child.kill('SIGTERM');
    await new Promise((r) => own.child.once('exit', r));
    rmSync(own.dataDir, { recursive: true, force: true });
  }
  report(results, gens, samples, ownDelay);
  if (breakdown) process.stdout.write(`${breakdown}\n`);
  if (prepared) process.stdout.write(`avatar upload              a ${fmt(video!.seconds)} s video, prepared in ${fmt(prepared.prepareMs / 1000)} s (${prepared.state})${prepared.prepareMs > SECONDS * 1000 - 2000 ? '; it outlasted the sessions: use a longer --seconds' : ''}\n`);
}

/** A talking video of about `seconds` (the built-in avatar at 512 px), made before the run. */
async function talkingVideo(seconds: number): Promise<{ dir: string; path: string; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-upload-'));
  const path = join(dir, 'talking.mp4');
  const sentence = 'This is a talking head video for the avatar upload, spoken at an even pace. ';
  const made = await say({ text: sentence.repeat(Math.max(1, Math.round(seconds / 4.5))), output: path, language: 'en', size: 512 });
  return { dir, path, seconds: made.audioS };
}

/** Uploads the video as a new avatar 2 s into the run; resolves when its preparation job ends. */
async function uploadDuringRun(baseUrl: string, headers: Record<string, string>, video: { path: string }): Promise<{ prepareMs: number; state: string }> {
  await sleep(2000);
  const form = new FormData();
  form.append('name', `upload_${Date.now()}`);
  form.append('file', new Blob([await readFile(video.path)], { type: 'video/mp4' }), 'talking.mp4');
  const t0 = performance.now();
  const answer = await fetch(`${baseUrl}/api/v1/avatars`, { method: 'POST', headers, body: form });
  const job = (await answer.json()) as { status?: string; message?: string };
  if (!job.status) throw new Error(`upload refused: ${answer.status} ${job.message ?? ''}`);
  for (;;) {
    const state = (await (await fetch(`${baseUrl}${job.status}`, { headers })).json()) as { state: string };
    if (state.state !== 'queued' && state.state !== 'running') return { prepareMs: performance.now() - t0, state: state.state };
    await sleep(500);
  }
}

/**
 * Steady state starts this long after the last session's first frame: every session has
 * joined (its peer connected, its encoder started), so joins no longer load the machine.
 */
const STEADY_AFTER_MS = 2000;

/** Frames on time, lateness and intervals of the frames that arrived at or after `fromAt` (and after each session's first second). */
function frameFigures(results: readonly SessionFigures[], fromAt: number) {
  let frames = 0;
  let onTime = 0;
  let onTimeStrict = 0;
  let missing = 0;
  const intervals: number[] = [];
  const lateness: number[] = [];
  for (const r of results) {
    const a = r.arrivals.slice(FPS); // the first second (connection set-up) is not steady state
    if (a.length < 2) continue;
    // Each frame's due time: its pts on the client clock, using the session's best offset.
    const offset = Math.min(...a.map((f) => f.at - f.ptsMs));
    for (let i = 0; i < a.length; i++) {
      if (a[i]!.at < fromAt) continue;
      const late = a[i]!.at - a[i]!.ptsMs - offset;
      lateness.push(late);
      if (late <= FRAME_MS) onTime++;
      if (late <= FRAME_MS / 2) onTimeStrict++;
      if (i > 0 && a[i - 1]!.at >= fromAt) {
        intervals.push(a[i]!.at - a[i - 1]!.at);
        missing += a[i]!.index - a[i - 1]!.index - 1;
      }
      frames++;
    }
  }
  return { frames, onTime, onTimeStrict, missing, slots: frames + missing, intervals, lateness };
}

function report(results: SessionFigures[], gens: { firstBytes: number[]; totals: number[]; failures: number }[], samples: { t: number; cpuS: number; rss: number; fps: number }[], ownDelay: { percentile(p: number): number }): void {
  const { frames, onTime, onTimeStrict, missing, slots, intervals, lateness } = frameFigures(results, -Infinity);
  const joinedAt = Math.max(...results.map((r) => r.arrivals[0]?.at ?? Infinity));
  const steady = frameFigures(results, joinedAt + STEADY_AFTER_MS);
  const first = results.flatMap((r) => r.firstFrame);
  const firstLater = results.flatMap((r) => r.firstFrame.slice(1));
  const errors = results.flatMap((r) => r.errors);
  const firstBytes = gens.flatMap((g) => g.firstBytes);
  const totals = gens.flatMap((g) => g.totals);
  const lines = [
    '',
    `realtime sessions          ${results.length}`,
    `frame slots (after 1 s)    ${slots} (${frames} received, ${missing} skipped by the server)`,
    `frames on time (<= 1 frame late)    ${fmt((100 * onTime) / slots, 2)} %`,
    `frames on time (<= 1/2 frame late)  ${fmt((100 * onTimeStrict) / slots, 2)} %`,
    `frame lateness p50/p95/p99 ${fmt(percentile(lateness, 50))} / ${fmt(percentile(lateness, 95))} / ${fmt(percentile(lateness, 99))} ms`,
    `steady state (from ${fmt(STEADY_AFTER_MS / 1000, 0)} s after the last session's first frame, ${steady.slots} slots):`,
    `  frames on time (<= 1 frame late)  ${fmt((100 * steady.onTime) / steady.slots, 2)} %`,
    `  frame lateness p50/p95/p99        ${fmt(percentile(steady.lateness, 50))} / ${fmt(percentile(steady.lateness, 95))} / ${fmt(percentile(steady.lateness, 99))} ms`,
    `frame interval p50/p95     ${fmt(percentile(intervals, 50))} / ${fmt(percentile(intervals, 95))} ms (target ${fmt(FRAME_MS)})`,
    `first speaking frame after speak p50/p95   ${fmt(percentile(first, 50))} / ${fmt(percentile(first, 95))} ms (${first.length} utterances)`,
    `  without each session's first utterance  ${fmt(percentile(firstLater, 50))} / ${fmt(percentile(firstLater, 95))} ms (the first ones all start within one second)`,
    `stream first bytes p50/p95 ${fmt(percentile(firstBytes, 50))} / ${fmt(percentile(firstBytes, 95))} ms, total p50 ${fmt(percentile(totals, 50))} ms (${totals.length} streams, ${gens.reduce((n, g) => n + g.failures, 0)} failed)`,
    ...(results.some((r) => r.videoBytes !== undefined) ? [`video bitrate per session  ${fmt(results.reduce((n, r) => n + (8 * (r.videoBytes ?? 0)) / 1000 / (r.seconds ?? 1), 0) / results.length, 0)} kbit/s (mean)`] : []),
    `loadtest's own event-loop delay p50/p99  ${fmt(ownDelay.percentile(50) / 1e6)} / ${fmt(ownDelay.percentile(99) / 1e6)} ms (counted in the lateness above)`,
    `session errors             ${errors.length}${errors.length ? ` (${[...new Set(errors)].slice(0, 3).join('; ')})` : ''}`,
    '',
    'server over time:   t(s)   CPU(% of one core)   RSS(MB)   frames/s',
  ];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    lines.push(`                 ${fmt(b.t, 0).padStart(6)}   ${fmt((100 * (b.cpuS - a.cpuS)) / (b.t - a.t), 0).padStart(18)}   ${fmt(b.rss / 1048576, 0).padStart(7)}   ${fmt(b.fps, 0).padStart(8)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

// werift keeps timers and sockets of closed peers alive for a while: the report is the end.
main().then(() => process.exit(), (e: unknown) => {
  process.stderr.write(`loadtest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
