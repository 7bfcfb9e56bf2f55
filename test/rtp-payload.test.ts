import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpHeader, RtpPacket } from 'werift';
import { rtpPayload } from '../src/transport/webrtc/webrtc-transport.js';

describe('RTP payload of an encoder packet', () => {
  const payload = Buffer.from([0x90, 0xe0, 1, 2, 3, 4, 5]);

  it('finds the payload after CSRCs and a header extension, without padding, as werift parses it', () => {
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: 7, timestamp: 90_000, marker: true, ssrc: 1, csrc: [11, 12], csrcLength: 2, extension: true, extensions: [{ id: 1, payload: Buffer.from([9, 9]) }] });
    const bytes = new RtpPacket(header, payload).serialize();
    assert.deepEqual(rtpPayload(bytes), payload);
    assert.deepEqual(rtpPayload(bytes), RtpPacket.deSerialize(bytes).payload);
    const padded = Buffer.concat([bytes, Buffer.from([0, 0, 3])]);
    padded[0]! |= 0x20;
    assert.deepEqual(rtpPayload(padded), payload);
    assert.deepEqual(rtpPayload(padded), RtpPacket.deSerialize(padded).payload);
  });

  it('refuses what is not a whole RTP packet', () => {
    const plain = new RtpPacket(new RtpHeader({ payloadType: 96 }), payload).serialize();
    assert.deepEqual(rtpPayload(plain), payload);
    assert.equal(rtpPayload(plain.subarray(0, 11)), undefined);
    assert.equal(rtpPayload(Buffer.from([0x40, ...plain.subarray(1)])), undefined, 'version 1');
    const badPadding = Buffer.from(plain);
    badPadding[0]! |= 0x20;
    badPadding[badPadding.length - 1] = 200;
    assert.equal(rtpPayload(badPadding), undefined);
    const cutExtension = Buffer.from(plain.subarray(0, 14));
    cutExtension[0]! |= 0x10;
    assert.equal(rtpPayload(cutExtension), undefined);
  });
});
