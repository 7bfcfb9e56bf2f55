import type { ClientMessage, ServerEvent } from './protocol.js';

/** Options of a WebRTC session. */
export interface WebRtcSessionOptions {
  /** Sent with the offer and the DELETE (e.g. `{ authorization: 'Bearer KEY' }`). */
  readonly headers?: Record<string, string>;
  /** Preferred video codec (the offer lists it first); the server accepts VP8 and H.264. */
  readonly codec?: 'VP8' | 'H264';
  /** STUN/TURN servers of the client's own (the server's are in its answer's candidates). */
  readonly iceServers?: RTCIceServer[];
  readonly onEvent?: (event: ServerEvent) => void;
  /** The peer connection failed or closed. */
  readonly onClose?: () => void;
  /** Longest to wait for the connection, ms (default 15 s). */
  readonly timeoutMs?: number;
}

/** Figures from `getStats()`, for display. */
export interface WebRtcStats {
  /** Round-trip time to the server, ms. */
  readonly rttMs: number | undefined;
  /** Video bitrate received since the previous call, kbit/s. */
  readonly videoKbps: number | undefined;
  /** Audio bitrate received since the previous call, kbit/s. */
  readonly audioKbps: number | undefined;
  readonly fps: number | undefined;
  readonly framesDecoded: number;
  readonly width: number | undefined;
  /** Video played later than audio by this much (positive: video behind), ms; from the jitter buffers. */
  readonly avSyncMs: number | undefined;
  readonly audioSamplesReceived: number;
  /** Energy of the audio received so far (grows while there is sound). */
  readonly totalAudioEnergy: number;
  readonly videoBytes: number;
  readonly audioBytes: number;
  readonly codec: string | undefined;
}

/**
 * A realtime session over WebRTC (POST /api/v1/realtime/webrtc, docs/realtime-protocol.md):
 * video and audio arrive as a MediaStream to play in a `<video>`; control messages go on
 * the `control` data channel; a microphone can be sent as an audio track. Browser only
 * (uses the global RTCPeerConnection).
 */
export class WebRtcSession {
  /** The avatar's picture and voice. */
  readonly stream = new MediaStream();
  /** The session.started event, once the session runs. */
  session: Extract<ServerEvent, { type: 'session.started' }> | undefined;
  private location: string | undefined;
  private closed = false;
  private last: { at: number; video: number; audio: number } | undefined;

  private constructor(readonly pc: RTCPeerConnection, private readonly channel: RTCDataChannel, private readonly audioSender: RTCRtpSender, private readonly options: WebRtcSessionOptions) {}

  /**
   * Opens a session: `url` is the route with its query (http://host/api/v1/realtime/webrtc?avatar=default).
   * Resolves once media flows and the control channel is open; rejects with the server's
   * reason on a refusal.
   */
  static async connect(url: string, options: WebRtcSessionOptions = {}): Promise<WebRtcSession> {
    const pc = new RTCPeerConnection({ iceServers: options.iceServers ?? [] });
    const video = pc.addTransceiver('video', { direction: 'recvonly' });
    if (options.codec && typeof RTCRtpReceiver.getCapabilities === 'function') {
      const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
      const wanted = `video/${options.codec}`.toLowerCase();
      video.setCodecPreferences([...codecs.filter((c) => c.mimeType.toLowerCase() === wanted), ...codecs.filter((c) => c.mimeType.toLowerCase() !== wanted)]);
    }
    // sendrecv from the start: a microphone joins later without renegotiation.
    const audio = pc.addTransceiver('audio', { direction: 'sendrecv' });
    const channel = pc.createDataChannel('control');
    const session = new WebRtcSession(pc, channel, audio.sender, options);
    pc.ontrack = (e) => session.stream.addTrack(e.track);
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the WebRTC session did not start in time')), options.timeoutMs ?? 15_000);
      channel.onmessage = (m) => {
        if (typeof m.data !== 'string') return;
        const event = JSON.parse(m.data) as ServerEvent;
        if (event.type === 'session.started') {
          session.session = event;
          clearTimeout(timer);
          resolve();
        }
        options.onEvent?.(event);
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
          clearTimeout(timer);
          reject(new Error(`the WebRTC connection ${pc.connectionState}`));
          session.closeLocally();
        }
      };
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const response = await fetch(url, { method: 'POST', headers: { ...options.headers, 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
      const body = await response.text();
      if (response.status !== 201) {
        let message = body;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          // Not JSON: shown as it is.
        }
        throw new Error(`the server refused the WebRTC session (${response.status}): ${message}`);
      }
      session.location = new URL(response.headers.get('location') ?? '', url).href;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      await started;
      return session;
    } catch (e) {
      session.close();
      throw e;
    }
  }

  send(message: ClientMessage | (ClientMessage & { track?: boolean })): void {
    if (this.channel.readyState === 'open') this.channel.send(JSON.stringify(message));
  }

  speak(text: string, options: { language?: string; voice?: string; id?: string } = {}): void {
    this.send({ type: 'speak', text, ...options });
  }

  interrupt(): void {
    this.send({ type: 'interrupt' });
  }

  switchAvatar(avatar: string): void {
    this.send({ type: 'avatar', avatar });
  }

  /** Sends a microphone track as streamed speech (capture it with echo cancellation on). */
  async startMicrophone(track: MediaStreamTrack, id = 'mic'): Promise<void> {
    await this.audioSender.replaceTrack(track);
    this.send({ type: 'audio.start', track: true, id });
  }

  async stopMicrophone(): Promise<void> {
    this.send({ type: 'audio.end' });
    await this.audioSender.replaceTrack(null);
  }

  /** RTT, bitrates since the last call, fps and A/V sync from `getStats()`. */
  async stats(): Promise<WebRtcStats> {
    const report = await this.pc.getStats();
    let rttMs: number | undefined;
    let videoIn: Record<string, number> | undefined;
    let audioIn: Record<string, number> | undefined;
    let codec: string | undefined;
    const codecs = new Map<string, string>();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'candidate-pair' && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
      if (s.type === 'inbound-rtp' && s.kind === 'video') videoIn = s as Record<string, number>;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audioIn = s as Record<string, number>;
      if (s.type === 'codec') codecs.set(s.id as string, String(s.mimeType));
    });
    if (videoIn) codec = codecs.get(videoIn.codecId as unknown as string);
    const now = performance.now();
    const videoBytes = videoIn?.bytesReceived ?? 0;
    const audioBytes = audioIn?.bytesReceived ?? 0;
    const previous = this.last;
    this.last = { at: now, video: videoBytes, audio: audioBytes };
    const kbps = (bytes: number, before: number | undefined) => (previous && now > previous.at && before !== undefined ? ((bytes - before) * 8) / (now - previous.at) : undefined);
    const delay = (s: Record<string, number> | undefined) => (s && s.jitterBufferEmittedCount ? (s.jitterBufferDelay! / s.jitterBufferEmittedCount) * 1000 : undefined);
    const videoDelay = delay(videoIn);
    const audioDelay = delay(audioIn);
    return {
      rttMs, codec,
      videoKbps: kbps(videoBytes, previous?.video), audioKbps: kbps(audioBytes, previous?.audio),
      fps: videoIn?.framesPerSecond, framesDecoded: videoIn?.framesDecoded ?? 0, width: videoIn?.frameWidth,
      avSyncMs: videoDelay !== undefined && audioDelay !== undefined ? videoDelay - audioDelay : undefined,
      audioSamplesReceived: audioIn?.totalSamplesReceived ?? 0, totalAudioEnergy: audioIn?.totalAudioEnergy ?? 0, videoBytes, audioBytes,
    };
  }

  /** Ends the session (DELETE) and closes the connection. */
  close(): void {
    if (this.location && !this.closed) void fetch(this.location, { method: 'DELETE', headers: this.options.headers ?? {} }).catch(() => undefined);
    this.closeLocally();
  }

  private closeLocally(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    this.options.onClose?.();
  }
}

/** Resolves once ICE gathering completes (the offer carries all candidates: no trickle), at most 3 s. */
function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
