import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenericNack, RtcpTransportLayerFeedback, RTCRtpCodecParameters, RTCRtpSender, RtpHeader, RtpPacket } from 'werift';
import { CompactRtpHistory, keepCompactRtpHistory, RTP_HISTORY_SLOTS } from '../src/transport/webrtc/rtp-history.js';

function packet(sequenceNumber: number, payloadBytes = 1000): RtpPacket {
  const payload = Buffer.alloc(payloadBytes);
  for (let i = 0; i < payloadBytes; i++) payload[i] = (sequenceNumber * 7 + i) & 0xff;
  return new RtpPacket(new RtpHeader({ sequenceNumber, timestamp: sequenceNumber * 3000, payloadType: 96, ssrc: 1234, marker: sequenceNumber % 3 === 0 }), payload);
}

/** What a werift sender sends, caught where it would go out (its DTLS transport). */
interface SentPacket {
  readonly sequenceNumber: number;
  readonly payload: Buffer;
}

/** A real werift sender whose DTLS transport is a recorder: `sendRtp` and its NACK handling run as in a session. */
function recordingSender(): { sender: RTCRtpSender; sent: SentPacket[] } {
  const sent: SentPacket[] = [];
  const sender = new RTCRtpSender('video');
  const transport = {
    state: 'connected',
    transportSequenceNumber: 0,
    onStateChange: { subscribe: () => ({ unSubscribe: () => undefined }) },
    sendRtp: async (payload: Buffer, header: RtpHeader) => {
      sent.push({ sequenceNumber: header.sequenceNumber, payload: Buffer.from(payload) });
      return payload.length + 12;
    },
    sendRtcp: async () => undefined,
  };
  Object.assign(sender, { dtlsTransport: transport, codec: new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96 }) });
  return { sender, sent };
}

function nack(sender: RTCRtpSender, lost: number[]): void {
  sender.handleRtcpPacket(new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: sender.ssrc, lost }) }));
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('compact RTP history (sent packets kept as bytes for NACKs)', () => {
  it('gives back each kept packet as it was sent: header, marker, payload', () => {
    const history = new CompactRtpHistory();
    history.put(5, packet(5));
    const back = history.get(5)!;
    assert.equal(back.header.sequenceNumber, 5);
    assert.equal(back.header.timestamp, 15000);
    assert.equal(back.header.ssrc, 1234);
    assert.equal(back.header.marker, false);
    assert.deepEqual(back.payload, packet(5).payload);
    assert.equal(history.get(6), undefined, 'an empty slot');
  });

  it('a slot holds the latest packet put there; a packet given back is a copy, unchanged when its slot is reused', () => {
    const history = new CompactRtpHistory();
    history.put(3, packet(3));
    const first = history.get(3)!;
    history.put(3, packet(3 + RTP_HISTORY_SLOTS));
    assert.equal(history.get(3)!.header.sequenceNumber, 3 + RTP_HISTORY_SLOTS);
    assert.equal(first.header.sequenceNumber, 3);
    assert.deepEqual(first.payload, packet(3).payload);
  });

  it('keeps no packet longer than a slot, and forgets everything on clear', () => {
    const history = new CompactRtpHistory();
    history.put(1, packet(1, 1600));
    assert.equal(history.get(1), undefined);
    history.put(2, packet(2));
    history.clear();
    assert.equal(history.get(2), undefined);
  });

  it('a werift sender with it sends as before and answers a NACK with the lost packet, byte for byte', async () => {
    const { sender, sent } = recordingSender();
    keepCompactRtpHistory(sender);
    try {
      for (let i = 0; i < 200; i++) await sender.sendRtp(packet(i));
      assert.equal(sent.length, 200);
      const original = sent[150]!;
      nack(sender, [original.sequenceNumber]);
      await settle();
      assert.equal(sent.length, 201, 'one retransmission');
      assert.equal(sent[200]!.sequenceNumber, original.sequenceNumber);
      assert.deepEqual(sent[200]!.payload, original.payload);
      // Packet 10 was sent 190 packets ago: its slot holds a later one, so nothing is resent.
      nack(sender, [sent[10]!.sequenceNumber]);
      await settle();
      assert.equal(sent.length, 201);
    } finally {
      sender.stop();
    }
  });

  it('holds no sent packet objects: each lookup rebuilds the packet', async () => {
    const { sender } = recordingSender();
    keepCompactRtpHistory(sender);
    try {
      const sentPacket = packet(7);
      await sender.sendRtp(sentPacket);
      const cache = (sender as unknown as { rtpCache: RtpPacket[] }).rtpCache;
      const slot = sentPacket.header.sequenceNumber % RTP_HISTORY_SLOTS;
      assert.notEqual(cache[slot], sentPacket);
      assert.notEqual(cache[slot], cache[slot]);
      assert.equal(cache[slot]!.header.sequenceNumber, sentPacket.header.sequenceNumber);
      // werift replaces its history when its source changes: that clears this one.
      (sender as unknown as { rtpCache: RtpPacket[] }).rtpCache = [];
      assert.equal(cache[slot], undefined);
    } finally {
      sender.stop();
    }
  });
});
