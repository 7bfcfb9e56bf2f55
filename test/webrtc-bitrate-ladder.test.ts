import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VideoBitrateLadder } from '../src/transport/webrtc/video-bitrate-ladder.js';
import { VideoLossMeter } from '../src/transport/webrtc/video-loss-meter.js';

describe('VideoBitrateLadder', () => {
  it('spans the configured rate down to the floor in rungs of about 70%', () => {
    const ladder = new VideoBitrateLadder({ maxKbps: 600, minKbps: 150 });
    assert.deepEqual(ladder.rungs, [600, 420, 294, 206, 150]);
    assert.equal(ladder.kbps, 600);
    assert.deepEqual(new VideoBitrateLadder({ maxKbps: 100, minKbps: 150 }).rungs, [100], 'a floor above the top is the top');
  });

  it('steps down on loss (two rungs on heavy loss), at most once every 2 s, and climbs one rung after 3 s clean', () => {
    const ladder = new VideoBitrateLadder({ maxKbps: 600, minKbps: 150 });
    assert.equal(ladder.report(0.01, 0), undefined, 'little loss holds the top');
    assert.deepEqual(ladder.report(0.1, 1000), { kbps: 420, reason: 'loss' });
    assert.equal(ladder.report(0.5, 2500), undefined, 'within 2 s of the last change');
    assert.deepEqual(ladder.report(0.5, 3000), { kbps: 206, reason: 'loss' });
    assert.deepEqual(ladder.report(0.3, 5000), { kbps: 150, reason: 'loss' }, 'the floor holds');
    assert.equal(ladder.report(0.9, 7000), undefined);
    assert.equal(ladder.report(0, 9000), undefined, 'only 2 s since the last lossy report');
    assert.equal(ladder.report(0.05, 9500), undefined, 'moderate loss holds the rate and restarts the clean period');
    assert.equal(ladder.report(0, 12000), undefined);
    assert.deepEqual(ladder.report(0, 12600), { kbps: 206, reason: 'clear' });
    assert.equal(ladder.report(0, 14000), undefined);
    assert.deepEqual(ladder.report(0, 15700), { kbps: 294, reason: 'clear' });
  });

  it('follows the receiver estimate (REMB) down at once and climbs no higher than it allows', () => {
    const ladder = new VideoBitrateLadder({ maxKbps: 600, minKbps: 150 });
    assert.deepEqual(ladder.receiverEstimate(300, 0), { kbps: 206, reason: 'estimate' }, '85% of 300 kbit/s is 255: the rung below');
    assert.equal(ladder.receiverEstimate(300, 4000), undefined, 'the next rung (294) is above 85% of the estimate');
    assert.equal(ladder.report(0, 4000), undefined);
    assert.deepEqual(ladder.receiverEstimate(1000, 4200), { kbps: 294, reason: 'clear' });
    assert.equal(ladder.receiverEstimate(50, 5000), undefined, 'within 2 s of the last change');
    assert.deepEqual(ladder.receiverEstimate(50, 6300), { kbps: 150, reason: 'estimate' }, 'an estimate below the floor gives the floor');
  });
});

describe('VideoLossMeter', () => {
  it('counts packets asked for again against packets sent when the report undercounts', () => {
    const meter = new VideoLossMeter();
    for (let i = 0; i < 100; i++) meter.packetSent();
    meter.nack([1, 2, 3]);
    meter.nack([3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(meter.report(0.02), 0.1, '10 distinct packets of 100 asked for again');
    for (let i = 0; i < 50; i++) meter.packetSent();
    assert.equal(meter.report(0.25), 0.25, 'the report when it says more');
    assert.equal(meter.report(0), 0, 'nothing sent, nothing lost');
  });
});
