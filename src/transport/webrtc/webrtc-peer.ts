import {
  MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useFIR, useNACK, usePLI, useREMB, useSdesMid, type RtpPacket, type RTCRtpTransceiver,
} from 'werift';
import { AvatarError } from '../../core/errors.js';
import { keepCompactRtpHistory } from './rtp-history.js';
import type { WebRtcVideoCodec } from './rtp-video-encoder.js';

/** A STUN or TURN server for ICE, as in RTCConfiguration. */
export interface IceServerConfig {
  readonly urls: string;
  readonly username?: string;
  readonly credential?: string;
}

/** What the server's side of a peer connection offers. */
export interface WebRtcPeerOptions {
  /** STUN/TURN servers; none: host candidates only (a server the client reaches directly). */
  readonly iceServers: readonly IceServerConfig[];
  /** Video codecs accepted, in the server's order (the offer's order decides between them). */
  readonly videoCodecs: readonly WebRtcVideoCodec[];
  /** Longest to wait for local ICE candidates before answering, ms. */
  readonly gatherTimeoutMs?: number;
}

/** A peer connection answered and ready to carry a session. */
export interface AnsweredPeer {
  readonly pc: RTCPeerConnection;
  readonly answerSdp: string;
  readonly videoTrack: MediaStreamTrack;
  /** Undefined when the offer asked for no audio. */
  readonly audioTrack: MediaStreamTrack | undefined;
  readonly videoCodec: WebRtcVideoCodec;
  /** The sender of the video: its keyframe requests (PLI, FIR) and reports. */
  readonly videoTransceiver: RTCRtpTransceiver;
  /** Called with each RTP packet of the client's microphone track, if it sends one. */
  onMicrophone(listener: (packet: RtpPacket) => void): void;
}

/**
 * Feedback the video takes: NACK, keyframe requests, receiver reports and REMB (the video
 * rate follows reports and REMB). Not transport-wide congestion control: the server does not
 * use it (a browser that negotiates it sends it instead of REMB), and werift's sender keeps
 * a record of every packet sent under it that it never prunes, up to 65536 per session.
 */
const VIDEO_FEEDBACK = () => [useNACK(), usePLI(), useFIR(), useREMB()];

function videoCodecParameters(codec: WebRtcVideoCodec): RTCRtpCodecParameters {
  return codec === 'VP8'
    ? new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK() })
    : new RTCRtpCodecParameters({
      mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: VIDEO_FEEDBACK(),
      parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    });
}

/**
 * Answers a client's SDP offer (WHEP: the client offers, the server answers once its ICE
 * candidates are gathered, no trickle). The offer must receive video; audio (Opus) is sent
 * when it asks for audio, and a microphone it sends on the same audio m-line is received.
 * A bad offer is an `invalid_input` error with the reason.
 */
export async function answerOffer(offerSdp: string, options: WebRtcPeerOptions): Promise<AnsweredPeer> {
  if (!/^v=0/m.test(offerSdp) || !/^m=video /m.test(offerSdp)) throw new AvatarError('invalid_input', 'the body must be an SDP offer (application/sdp) with a video m-line');
  const pc = new RTCPeerConnection({
    // Without STUN/TURN servers the server is reached on its host addresses: ICE lite (it
    // answers the client's checks and gathers nothing, so it contacts no outside server).
    iceLite: options.iceServers.length === 0,
    iceServers: options.iceServers.map((s) => ({ urls: s.urls, ...(s.username ? { username: s.username } : {}), ...(s.credential ? { credential: s.credential } : {}) })),
    codecs: {
      video: options.videoCodecs.map(videoCodecParameters),
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: 'minptime=10;useinbandfec=1' })],
    },
    headerExtensions: { video: [useSdesMid()], audio: [useSdesMid()] },
  });
  try {
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: bundledCredentials(offerSdp) });
    } catch (e) {
      throw new AvatarError('invalid_input', `the SDP offer cannot be answered: ${(e as Error).message} (video must offer ${options.videoCodecs.join(' or ')}, audio Opus)`);
    }
    const videoTransceiver = pc.getTransceivers().find((t) => t.kind === 'video');
    if (!videoTransceiver) throw new AvatarError('invalid_input', 'the SDP offer has no video to receive');
    const videoTrack = new MediaStreamTrack({ kind: 'video' });
    videoTransceiver.sender.registerTrack(videoTrack);
    keepCompactRtpHistory(videoTransceiver.sender);
    // The answer's direction is this one intersected with the offer's.
    videoTransceiver.setDirection('sendonly');
    const audioTransceiver = pc.getTransceivers().find((t) => t.kind === 'audio');
    let audioTrack: MediaStreamTrack | undefined;
    if (audioTransceiver) {
      audioTrack = new MediaStreamTrack({ kind: 'audio' });
      audioTransceiver.sender.registerTrack(audioTrack);
      keepCompactRtpHistory(audioTransceiver.sender);
      audioTransceiver.setDirection('sendrecv');
    }
    await pc.setLocalDescription(await pc.createAnswer());
    if (pc.iceGatheringState !== 'complete') {
      await pc.iceGatheringStateChange.watch((state) => state === 'complete', options.gatherTimeoutMs ?? 5000).catch(() => undefined);
    }
    const answerSdp = pc.localDescription?.sdp;
    if (!answerSdp) throw new Error('no local description after answering');
    const codecName = videoTransceiver.codecs[0]?.name.toUpperCase();
    const videoCodec: WebRtcVideoCodec = codecName === 'H264' ? 'H264' : 'VP8';
    return {
      pc, answerSdp, videoTrack, audioTrack, videoCodec, videoTransceiver,
      onMicrophone(listener) {
        audioTransceiver?.receiver.track?.onReceiveRtp.subscribe((packet) => listener(packet));
      },
    };
  } catch (e) {
    await pc.close().catch(() => undefined);
    throw e;
  }
}

/**
 * With BUNDLE, the transport is the first bundled m-line's: its ICE credentials hold for
 * all. Some offerers (aiortc) write different credentials into each m-line; the answering
 * stack would take the last ones, so every m-line is given the first one's.
 */
function bundledCredentials(sdp: string): string {
  if (!/^a=group:BUNDLE /m.test(sdp)) return sdp;
  const ufrag = /^a=ice-ufrag:(.+?)\r?$/m.exec(sdp)?.[1];
  const pwd = /^a=ice-pwd:(.+?)\r?$/m.exec(sdp)?.[1];
  if (!ufrag || !pwd) return sdp;
  return sdp.replace(/^a=ice-ufrag:.+?(\r?)$/gm, `a=ice-ufrag:${ufrag}$1`).replace(/^a=ice-pwd:.+?(\r?)$/gm, `a=ice-pwd:${pwd}$1`);
}
