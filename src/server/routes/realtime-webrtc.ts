import type { FastifyInstance } from 'fastify';
import { locateFfmpeg } from '../../encode/ffmpeg.js';
import { RealtimeSession } from '../../pipeline/realtime/session.js';
import { MICROPHONE_RATE, MicrophoneTrack } from '../../transport/webrtc/microphone-track.js';
import { watchReceiverFeedback } from '../../transport/webrtc/receiver-feedback.js';
import { answerOffer } from '../../transport/webrtc/webrtc-peer.js';
import { WebRtcTransport } from '../../transport/webrtc/webrtc-transport.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { openRealtimeStage, realtimeSessionDeps, type RealtimeQuery } from '../realtime-request.js';
import { routeSchemas } from '../route-schemas.js';

/** A peer that has not connected this long after its answer is given up, ms. */
const CONNECT_TIMEOUT_MS = 30_000;
/** A peer disconnected this long (ICE lost and not regained) ends its session, ms. */
const DISCONNECT_GRACE_MS = 5_000;
/** RTCP payload-specific feedback: full intra request (RFC 5104). */
const RTCP_PSFB = 206;
const FIR_FORMAT = 4;

/** A live WebRTC session, found by the id in its Location. */
interface WebRtcEntry {
  readonly tenant: string;
  end(): void;
}

/**
 * POST /api/v1/realtime/webrtc?avatar=ID[&size][&fps] with an SDP offer: a realtime
 * session as WebRTC media (WHEP-style: 201, the SDP answer, Location to DELETE).
 * DELETE /api/v1/realtime/webrtc/:id ends it. Control messages (the WebSocket protocol's
 * JSON, docs/realtime-protocol.md) travel on the data channel the client opens.
 */
export function registerWebRtcRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const schemas = routeSchemas(ctx.config.limits);
  const live = new Map<string, WebRtcEntry>();
  // Closing the server ends its WebRTC sessions (their encoders, sockets and timers).
  app.addHook('onClose', async () => {
    for (const entry of [...live.values()]) entry.end();
  });
  app.addContentTypeParser('application/sdp', { parseAs: 'string', bodyLimit: 65536 }, (_request, body, done) => done(null, body));

  app.post('/api/v1/realtime/webrtc', {
    schema: schemas.realtimeWebRtc,
    preValidation: async (request) => {
      if (!String(request.headers['content-type'] ?? '').startsWith('application/sdp')) throw new HttpError(415, 'unsupported_media_type', 'send the SDP offer as the body with Content-Type: application/sdp');
    },
  }, async (request, reply) => {
    const tenant = request.caller.tenant;
    const { stage, release } = await openRealtimeStage(ctx, tenant, request.query as RealtimeQuery, 'i420');
    let peer;
    let ffmpeg;
    try {
      ffmpeg = await locateFfmpeg();
      peer = await answerOffer(request.body as string, { iceServers: ctx.config.webrtc.iceServers, videoCodecs: ctx.config.webrtc.videoCodecs });
    } catch (e) {
      release();
      throw e;
    }
    const { pc } = peer;
    let ended = false;
    const transport = new WebRtcTransport(peer.videoTrack, peer.audioTrack, {
      codec: peer.videoCodec, width: stage.width, height: stage.height, fps: stage.fps, kbps: ctx.config.webrtc.videoKbps, minKbps: ctx.config.webrtc.minVideoKbps, ffmpeg: ffmpeg.path,
    }, (message) => session.end({ error: 'render_failed', message }), (change) => {
      ctx.metrics.webrtcRateChanges.inc({ direction: change.reason === 'clear' ? 'up' : 'down', reason: change.reason });
      log.info({ kbps: change.kbps, reason: change.reason }, 'webrtc video rate changed');
    }, (delayMs) => ctx.metrics.webrtcEncodeDelay.observe(delayMs));
    const session: RealtimeSession = new RealtimeSession(stage, transport, realtimeSessionDeps(ctx, tenant, stage, 'i420', peer.videoCodec.toLowerCase(), () => log, () => end()));
    const log = request.log.child({ sessionId: session.id });
    const untrack = ctx.live.track(session);
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(connectTimer);
      clearTimeout(disconnectTimer);
      unwatchFeedback();
      session.close();
      transport.close();
      microphone.stop();
      void pc.close().catch(() => undefined);
      live.delete(session.id);
      untrack();
      release();
      const s = session.stats;
      if (s.lateTicks + s.skippedSlots) ctx.metrics.lateFrames.inc({}, s.lateTicks + s.skippedSlots);
      log.info({ ...s, ...transport.stats }, 'realtime session ended');
    };
    const microphone = new MicrophoneTrack((pcm) => void session.handle(pcm, true));
    peer.onMicrophone((packet) => microphone.packet(packet.payload));
    const connectTimer = setTimeout(() => pc.connectionState !== 'connected' && end(), CONNECT_TIMEOUT_MS);
    let disconnectTimer: NodeJS.Timeout | undefined;
    let started = false;
    pc.connectionStateChange.subscribe((state) => {
      clearTimeout(disconnectTimer);
      if (state === 'connected' && !started) {
        started = true;
        clearTimeout(connectTimer);
        transport.mediaReady();
        session.start();
        log.info({ avatar: stage.avatar, width: stage.width, height: stage.height, fps: stage.fps, codec: peer.videoCodec }, 'realtime session started (webrtc)');
      } else if (state === 'failed' || state === 'closed') end();
      else if (state === 'disconnected') disconnectTimer = setTimeout(end, DISCONNECT_GRACE_MS);
    });
    const heard = (kind: 'report' | 'estimate' | 'nack') => ctx.metrics.webrtcFeedback.inc({ kind });
    const unwatchFeedback = watchReceiverFeedback(peer.videoTransceiver.sender, 90000, {
      report: (fractionLost) => { heard('report'); transport.receiverReport(fractionLost); },
      estimate: (kbps) => { heard('estimate'); transport.receiverEstimate(kbps); },
      nack: (sequenceNumbers) => { heard('nack'); transport.receiverNack(sequenceNumbers); },
    });
    peer.videoTransceiver.sender.onPictureLossIndication.subscribe(() => transport.requestKeyframe());
    peer.videoTransceiver.sender.onRtcp.subscribe((packet) => {
      const feedback = (packet as { type: number; feedback?: { count?: number } });
      if (feedback.type === RTCP_PSFB && feedback.feedback?.count === FIR_FORMAT) transport.requestKeyframe();
    });
    pc.onDataChannel.subscribe((channel) => {
      transport.attachChannel(channel);
      channel.onMessage.subscribe((data) => {
        if (typeof data !== 'string') {
          void session.handle(data, true);
          return;
        }
        void session.handle(Buffer.from(controlMessage(data, microphone)), false);
      });
    });
    live.set(session.id, { tenant, end });
    const location = `/api/v1/realtime/webrtc/${session.id}`;
    return reply.code(201).header('content-type', 'application/sdp').header('location', location).header('x-session-id', session.id).send(peer.answerSdp);
  });

  app.delete('/api/v1/realtime/webrtc/:id', { schema: schemas.realtimeWebRtcDelete }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const entry = live.get(id);
    if (!entry || entry.tenant !== request.caller.tenant) throw new HttpError(404, 'not_found', `no WebRTC session ${id}`);
    entry.end();
    return reply.code(204).send();
  });
}

/**
 * A control message as the session takes it. `audio.start` with `"track": true` turns the
 * microphone track on (its PCM is 48 kHz and never echoed); `audio.end` turns it off.
 */
function controlMessage(text: string, microphone: MicrophoneTrack): string {
  let message: { type?: unknown; track?: unknown };
  try {
    message = JSON.parse(text) as { type?: unknown; track?: unknown };
  } catch {
    return text; // The session answers with the parse error.
  }
  if (message?.type === 'audio.start' && message.track === true) {
    microphone.start();
    return JSON.stringify({ ...message, sampleRate: MICROPHONE_RATE, echo: false });
  }
  if (message?.type === 'audio.start' || message?.type === 'audio.end') microphone.stop();
  return text;
}
