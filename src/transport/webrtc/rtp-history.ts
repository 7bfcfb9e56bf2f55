import { RtpPacket, type RTCRtpSender } from 'werift';

/** Packets a werift sender keeps for retransmission: its slot is the sequence number modulo this (werift 0.24's RTP_HISTORY_SIZE). */
export const RTP_HISTORY_SLOTS = 128;
/** Longest packet kept; a longer one is not retransmitted (ours are at most ~1.25 KB: 1200 bytes of payload and a header). */
const MAX_PACKET_BYTES = 1500;

/**
 * The last RTP packets a sender sent, as bytes in one buffer allocated once, by slot
 * (sequence number modulo `RTP_HISTORY_SLOTS`), for retransmission on a NACK.
 *
 * werift keeps each sent packet as objects (header, extensions, payload view) for as long as
 * its slot is not reused: about two seconds of video, and of audio. Every packet thereby
 * outlives the young generation and is promoted, so a server with a dozen sessions filled the
 * old generation in about two seconds: a major GC every two seconds, whose marking threads
 * took the cores the video encoders needed at that moment, and every session's frames came
 * late together. Bytes in a buffer allocated once promote nothing; a packet is rebuilt only
 * when it is asked for again.
 */
export class CompactRtpHistory {
  private readonly bytes = Buffer.alloc(RTP_HISTORY_SLOTS * MAX_PACKET_BYTES);
  private readonly lengths = new Uint16Array(RTP_HISTORY_SLOTS);

  /** Keeps `packet` in `slot` (the one before it there is forgotten). */
  put(slot: number, packet: RtpPacket): void {
    const index = this.index(slot);
    const wire = packet.serialize();
    if (wire.length > MAX_PACKET_BYTES) {
      this.lengths[index] = 0;
      return;
    }
    wire.copy(this.bytes, index * MAX_PACKET_BYTES);
    this.lengths[index] = wire.length;
  }

  /** The packet kept in `slot`, rebuilt; undefined when there is none. */
  get(slot: number): RtpPacket | undefined {
    const index = this.index(slot);
    const length = this.lengths[index]!;
    if (length === 0) return undefined;
    const start = index * MAX_PACKET_BYTES;
    // A copy: the slot is overwritten while the retransmission may still be on its way.
    return RtpPacket.deSerialize(Buffer.from(this.bytes.subarray(start, start + length)));
  }

  /** Forgets every packet (the sender started a new stream). */
  clear(): void {
    this.lengths.fill(0);
  }

  /** Slots past the last wrap around (a sender with a longer history keeps fewer packets here; werift checks each packet's sequence number before resending it). */
  private index(slot: number): number {
    return slot % RTP_HISTORY_SLOTS;
  }
}

/**
 * Makes a werift sender keep its sent packets in a `CompactRtpHistory` instead of as
 * objects (see there why). werift reads and writes its history by index
 * (`rtpCache[seq % 128]`) and replaces it with a fresh array when its source changes: a
 * proxy answers the indexes from the compact history, and a replacement clears it.
 * Returns the history (for tests).
 */
export function keepCompactRtpHistory(sender: RTCRtpSender): CompactRtpHistory {
  if (!('rtpCache' in sender)) throw new Error('this werift sender keeps no rtpCache: the compact RTP history does not fit this werift version');
  const history = new CompactRtpHistory();
  const slotOf = (key: string | symbol) => (typeof key === 'string' && /^\d+$/.test(key) ? Number(key) : undefined);
  const view = new Proxy<RtpPacket[]>([], {
    get(target, key, receiver) {
      const slot = slotOf(key);
      return slot === undefined ? Reflect.get(target, key, receiver) : history.get(slot);
    },
    set(target, key, value, receiver) {
      const slot = slotOf(key);
      if (slot === undefined) return Reflect.set(target, key, value, receiver);
      if (value instanceof RtpPacket) history.put(slot, value);
      return true;
    },
  });
  Object.defineProperty(sender, 'rtpCache', { configurable: true, enumerable: true, get: () => view, set: () => history.clear() });
  return history;
}
