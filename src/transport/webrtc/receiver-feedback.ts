import { GenericNack, ReceiverEstimatedMaxBitrate, RtcpPayloadSpecificFeedback, RtcpTransportLayerFeedback, RtcpRrPacket, RtcpSrPacket, type RTCRtpSender, type RtcpPacket } from 'werift';

/** What a receiver says about one of the server's streams (its receiver reports, REMB and NACK). */
export interface ReceiverFeedbackListener {
  /** A report block on the stream: share of packets lost since the last one (0 to 1) and interarrival jitter, ms. */
  report(fractionLost: number, jitterMs: number): void;
  /** The receiver's estimate of the path's capacity (REMB), kbit/s. */
  estimate(kbps: number): void;
  /** The receiver asked for these packets of the stream again (NACK): sequence numbers. */
  nack(sequenceNumbers: readonly number[]): void;
}

/**
 * Calls `listener` with the receiver's reports on `sender`'s stream. Report blocks are read
 * from every RTCP packet of the transport: a receiver that also sends (a microphone) puts
 * them into its sender reports, which the stack routes to its own receiving side.
 * Returns a function that stops listening.
 */
export function watchReceiverFeedback(sender: RTCRtpSender, clockRate: number, listener: ReceiverFeedbackListener): () => void {
  const handle = (packet: RtcpPacket) => {
    if (packet.type === RtcpRrPacket.type || packet.type === RtcpSrPacket.type) {
      for (const block of (packet as RtcpRrPacket | RtcpSrPacket).reports) {
        if (block.ssrc === sender.ssrc) listener.report(block.fractionLost / 256, (block.jitter / clockRate) * 1000);
      }
    } else if (packet.type === RtcpTransportLayerFeedback.type) {
      const feedback = (packet as RtcpTransportLayerFeedback).feedback;
      if (feedback instanceof GenericNack && feedback.mediaSourceSsrc === sender.ssrc) listener.nack(feedback.lost);
    } else if (packet.type === RtcpPayloadSpecificFeedback.type) {
      const feedback = (packet as RtcpPayloadSpecificFeedback).feedback;
      if (feedback instanceof ReceiverEstimatedMaxBitrate && feedback.ssrcFeedbacks.includes(sender.ssrc)) listener.estimate(Number(feedback.bitrate) / 1000);
    }
  };
  const subscription = sender.dtlsTransport.onRtcp.subscribe(handle);
  return () => subscription.unSubscribe();
}
