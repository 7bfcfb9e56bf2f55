import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MediaStreamTrack, RtpPacket } from 'werift';
import { locateFfmpeg } from '../src/encode/ffmpeg.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { WebRtcTransport } from '../src/transport/webrtc/webrtc-transport.js';
import type { MouthParams } from '../src/visemes/mouth-params.js';

const OPEN: MouthParams = { jawOpen: 0.8, lipWidth: 0.5, rounding: 0.1, closure: 0, teeth: 0.6, tongue: 0.3 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

describe('WebRTC transport', () => {
  it('sends each video frame when it is due: frames handed over ahead of their slot wait, in order', async () => {
    // The track is where werift would take the packets: only what reaches it, and when, is looked at.
    const written: { at: number; timestamp: number; sequenceNumber: number; marker: boolean }[] = [];
    const track = { writeRtp: (p: RtpPacket) => written.push({ at: performance.now(), timestamp: p.header.timestamp, sequenceNumber: p.header.sequenceNumber, marker: p.header.marker }) } as unknown as MediaStreamTrack;
    const failures: string[] = [];
    const transport = new WebRtcTransport(track, undefined, { codec: 'VP8', width: 128, height: 96, fps: 25, kbps: 300, minKbps: 100, ffmpeg: (await locateFfmpeg()).path }, (m) => failures.push(m));
    assert.equal(transport.pacesFrames, true, 'the session hands frames over as soon as they are drawn');
    const renderer = new ParametricRenderer(128, 96);
    const origin = performance.now() + 200;
    transport.startClock(origin);
    transport.mediaReady();
    const slots = 60;
    try {
      for (let slot = 0; slot < slots; slot++) {
        // 30 ms ahead: the encoder (a few ms a frame) is done long before the slot.
        await sleep(origin + slot * 40 - 30 - performance.now());
        transport.sendFrame({ i420: renderer.render({ index: slot, ptsMs: slot * 40, mouth: { ...OPEN, jawOpen: slot % 2 ? 0.8 : 0.1 }, speaking: true }) }, slot, slot * 40);
      }
      await sleep(origin + slots * 40 + 300 - performance.now());
    } finally {
      transport.close();
    }
    assert.deepEqual(failures, []);
    const frames = written.filter((w) => w.marker);
    assert.ok(frames.length >= slots / 2, `${frames.length} frames sent of ${slots}`);
    for (const w of written) {
      const dueAt = origin + w.timestamp / 90;
      assert.ok(w.at >= dueAt - 1, `a packet of the frame due at ${(dueAt - origin).toFixed(0)} ms went out ${(dueAt - w.at).toFixed(1)} ms early`);
    }
    written.forEach((w, i) => i && assert.equal(w.sequenceNumber, (written[i - 1]!.sequenceNumber + 1) & 0xffff, 'packets in order'));
    assert.deepEqual(frames.map((f) => f.timestamp), [...frames.map((f) => f.timestamp)].sort((a, b) => a - b));
  });
});
