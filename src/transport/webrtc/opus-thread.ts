/**
 * The Opus encoders of every WebRTC session of a process, on a thread of their own: 50
 * frames a second per session are enough work to delay the frame pacers of the event loop.
 * Requests and replies are in order per session (messages are handled one at a time).
 */
import { parentPort } from 'node:worker_threads';
import OpusScript from 'opusscript';
import { eachMessage, MessageBatcher } from '../../core/message-batch.js';
import { OPUS_BITRATE, OPUS_COMPLEXITY, OPUS_FRAME_SAMPLES, OPUS_RATE, OPUS_SET_BITRATE, OPUS_SET_COMPLEXITY } from './opus-settings.js';

/** What the event loop asks of the thread. */
export type OpusThreadRequest =
  | { readonly kind: 'open'; readonly stream: number }
  | { readonly kind: 'encode'; readonly stream: number; readonly seq: number; readonly pcm: Int16Array }
  | { readonly kind: 'close'; readonly stream: number };

/** The thread's answer to an `encode`: the packet, or why there is none. */
export type OpusThreadReply =
  | { readonly stream: number; readonly seq: number; readonly packet: Uint8Array }
  | { readonly stream: number; readonly seq: number; readonly error: string };

const encoders = new Map<number, OpusScript>();
/** Packets of one batch go back together. */
const replies = parentPort ? new MessageBatcher<OpusThreadReply>(parentPort) : undefined;

parentPort?.on('message', eachMessage((request: OpusThreadRequest) => {
  if (request.kind === 'open') {
    const encoder = new OpusScript(OPUS_RATE, 1, OpusScript.Application.VOIP);
    encoder.encoderCTL(OPUS_SET_BITRATE, OPUS_BITRATE);
    encoder.encoderCTL(OPUS_SET_COMPLEXITY, OPUS_COMPLEXITY);
    encoders.set(request.stream, encoder);
  } else if (request.kind === 'close') {
    encoders.get(request.stream)?.delete();
    encoders.delete(request.stream);
  } else {
    const { stream, seq, pcm } = request;
    const encoder = encoders.get(stream);
    try {
      if (!encoder) throw new Error(`no Opus encoder is open for stream ${stream}`);
      if (pcm.length !== OPUS_FRAME_SAMPLES) throw new Error(`an Opus frame is ${OPUS_FRAME_SAMPLES} samples, got ${pcm.length}`);
      const packet = Uint8Array.from(encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), OPUS_FRAME_SAMPLES));
      replies!.post({ stream, seq, packet }, [packet.buffer]);
    } catch (e) {
      replies!.post({ stream, seq, error: (e as Error).message });
    }
  }
}));
