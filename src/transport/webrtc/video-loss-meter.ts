/** Sequence numbers asked for again beyond which the oldest are forgotten (a window holds far fewer). */
const MAX_TRACKED_NACKS = 4096;

/**
 * The share of video packets lost on the way to the receiver, per receiver report. A
 * report's own fraction lost undercounts when lost packets are retransmitted on their own
 * stream (no RTX): the retransmissions count as received. The packets the receiver asked
 * for again (NACK) since the previous report, against the packets sent meanwhile, count
 * them; the larger of the two is the loss.
 */
export class VideoLossMeter {
  private sent = 0;
  private readonly nacked = new Set<number>();

  /** A video RTP packet went out. */
  packetSent(): void {
    this.sent++;
  }

  /** The receiver asked for these packets again (sequence numbers; repeats count once). */
  nack(sequenceNumbers: readonly number[]): void {
    for (const seq of sequenceNumbers) if (this.nacked.size < MAX_TRACKED_NACKS) this.nacked.add(seq);
  }

  /** A receiver report with its fraction lost (0 to 1): the loss since the previous one, 0 to 1. */
  report(fractionLost: number): number {
    const nackedShare = this.sent ? Math.min(1, this.nacked.size / this.sent) : 0;
    this.sent = 0;
    this.nacked.clear();
    return Math.max(fractionLost, nackedShare);
  }
}
