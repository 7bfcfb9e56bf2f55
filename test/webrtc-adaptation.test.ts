import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Debian's python3 with python3-aiortc (scripts/test-all.sh installs it). */
const PYTHON = process.env.AVATAR_PYTHON ?? '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../../test/helpers/aiortc_peer.py', import.meta.url));
const MAX_KBPS = 600;
const MIN_KBPS = 50;

interface BitrateEvent {
  type: 'video.bitrate';
  kbps: number;
  reason: string;
  at: number;
}

interface PeerReport {
  status: number;
  videoFrames: number;
  events: ({ type: string; at: number } | BitrateEvent)[];
  /** [seconds since start, video RTP bytes that reached the peer in that second]. */
  relayed: [number, number][];
}

function runPeer(url: string, seconds: number, text: string, options: Record<string, unknown>): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [PEER, url, 'VP8', String(seconds), text, '', JSON.stringify(options)], { timeout: 90_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the aiortc peer failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout) as PeerReport);
    });
  });
}

describe('WebRTC video rate follows the receiver (aiortc peer behind a lossy relay)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ realtime: { size: 256 }, webrtc: { videoKbps: MAX_KBPS, minVideoKbps: MIN_KBPS } });
    await s.server.warmUp();
  });
  after(async () => s?.close());

  it('steps the rate down while a share of the video is lost, and back up once the path is clean', async (t) => {
    const lossFrom = 5;
    const lossTo = 11;
    const seconds = 19;
    // Speech keeps the encoder busy throughout; the relay drops half the video RTP (first
    // sends and retransmissions alike) from 5 s to 11 s.
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(6);
    const report = await runPeer(`${s.url}/api/v1/realtime/webrtc?avatar=default&size=256`, seconds, text, { drop: [[lossFrom, lossTo, 0.5]], speakAt: 0.5 });
    assert.equal(report.status, 201);
    const changes = report.events.filter((e): e is BitrateEvent => e.type === 'video.bitrate');
    const summary = JSON.stringify(changes.map((c) => [c.at, c.kbps, c.reason]));
    t.diagnostic(`rate changes [s, kbit/s, reason]: ${summary}`);
    t.diagnostic(`video kbit/s reaching the peer by second: ${JSON.stringify(report.relayed.map(([sec, b]) => [sec, Math.round((b * 8) / 1000)]))}`);
    assert.ok(changes.every((c) => c.at > lossFrom), `the rate held at ${MAX_KBPS} kbit/s on the clean path before the loss: ${summary}`);
    const down = changes.filter((c) => c.reason === 'loss' && c.at < lossTo + 1.5);
    assert.ok(down.length >= 1, `the rate went down during the loss: ${summary}`);
    const lowest = Math.min(...down.map((c) => c.kbps));
    assert.ok(lowest <= MAX_KBPS / 2, `the rate fell to ${lowest} kbit/s under 50% loss: ${summary}`);
    for (let i = 1; i < changes.length; i++) assert.ok(changes[i]!.at - changes[i - 1]!.at > 1.5, `changes at least 2 s apart: ${summary}`);
    const up = changes.filter((c) => c.reason === 'clear' && c.at > lossTo);
    // One rung per 3 s of clean reports (which come every 0.5-1.5 s): at least one within 8 s.
    assert.ok(up.length >= 1, `the rate climbed back once the loss stopped: ${summary}`);
    assert.ok(up.every((c, i) => c.kbps > (i ? up[i - 1]!.kbps : lowest)), `climbed one rung at a time from ${lowest} kbit/s: ${summary}`);
    // What reached the peer on the clean path (the relay counts the video bytes it lets
    // through each second): at full rate before the loss, at the low rate just after it.
    const bytes = new Map(report.relayed);
    const kbit = (seconds: number[]) => seconds.reduce((sum, sec) => sum + (bytes.get(sec) ?? 0), 0) * 8 / 1000 / seconds.length;
    const rateAfter = changes.filter((c) => c.at < lossTo + 2).pop()!.kbps;
    const full = kbit([lossFrom - 2, lossFrom - 1]);
    const low = kbit([lossTo, lossTo + 1]);
    assert.ok(low < full * 0.5, `video reaching the peer: ${full.toFixed(0)} kbit/s before the loss, ${low.toFixed(0)} kbit/s just after it at ${rateAfter} kbit/s`);
    // The peer kept decoding pictures through it all.
    assert.ok(report.videoFrames >= (seconds - 2) * 25 * 0.6, `${report.videoFrames} frames decoded`);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /webrtc_video_rate_changes_total\{direction="down",reason="loss"\} [1-9]/);
    assert.match(metrics, /webrtc_video_rate_changes_total\{direction="up",reason="clear"\} [1-9]/);
  });
});
