import { RTCPeerConnection, RTCRtpCodecParameters, useSdesMid } from 'werift';

/** What one WebRTC load session saw. */
export interface WebRtcSessionFigures {
  /** Video frames (RTP marker) as they arrived: slot index and pts from the RTP clock, relative to the first. */
  arrivals: { index: number; at: number; ptsMs: number }[];
  /** Time from `speak` to the arrival of the utterance's first frame (its slot, mapped through a ping), ms. */
  firstFrame: number[];
  errors: string[];
  videoBytes: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One WebRTC session driven by a Node peer (werift): offers to receive video and audio,
 * opens the control channel, speaks the lines one after another, and records each video
 * frame's arrival. A `ping` maps the session clock onto the RTP clock, so the first frame
 * of each utterance (at its `speech.started` ptsMs) is found among the arrivals.
 */
export async function runWebRtcSession(routeUrl: string, headers: Record<string, string>, until: number, stagger: number, lines: readonly string[], pauseMs: number, fps: number, codec: 'vp8' | 'h264' = 'vp8'): Promise<WebRtcSessionFigures> {
  const figures: WebRtcSessionFigures = { arrivals: [], firstFrame: [], errors: [], videoBytes: 0, seconds: 0 };
  await sleep(stagger);
  const pc = new RTCPeerConnection({
    iceServers: [],
    codecs: {
      video: [codec === 'h264'
        ? new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })
        : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000 })],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })] },
    headerExtensions: { video: [useSdesMid()], audio: [useSdesMid()] },
  });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const channel = pc.createDataChannel('control');
  let firstTs: number | undefined;
  let lastTs: number | undefined;
  const startedAt = performance.now();
  pc.onTrack.subscribe((track) => {
    if (track.kind !== 'video') return;
    track.onReceiveRtp.subscribe((rtp) => {
      figures.videoBytes += rtp.payload.length;
      if (!rtp.header.marker || rtp.header.timestamp === lastTs) return;
      lastTs = rtp.header.timestamp;
      firstTs ??= rtp.header.timestamp;
      const ptsMs = ((rtp.header.timestamp - firstTs) >>> 0) / 90;
      figures.arrivals.push({ index: Math.round((ptsMs * fps) / 1000), at: performance.now(), ptsMs });
    });
  });
  const waiters: ((event: { type: string; ptsMs?: number; message?: string }) => boolean)[] = [];
  channel.onMessage.subscribe((data) => {
    if (typeof data !== 'string') return;
    const event = JSON.parse(data) as { type: string; ptsMs?: number; message?: string };
    if (event.type === 'error') figures.errors.push(event.message ?? 'error');
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!(event)) waiters.splice(i, 1);
  });
  const next = (type: string, timeoutMs = 30_000) => new Promise<{ type: string; ptsMs?: number; at: number } | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    waiters.push((e) => {
      if (e.type !== type) return false;
      clearTimeout(timer);
      resolve({ ...e, at: performance.now() });
      return true;
    });
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== 'complete') await pc.iceGatheringStateChange.watch((s) => s === 'complete', 5000).catch(() => undefined);
    const response = await fetch(routeUrl, { method: 'POST', headers: { ...headers, 'content-type': 'application/sdp' }, body: pc.localDescription!.sdp });
    if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
    const location = new URL(response.headers.get('location')!, routeUrl).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    const opened = await next('session.started', 15_000);
    if (!opened) throw new Error('the session did not start');
    while (figures.arrivals.length < fps) await sleep(50);
    // The session clock at a known client time, against the RTP clock of the frames.
    const pinged = performance.now();
    channel.send(JSON.stringify({ type: 'ping' }));
    const pong = await next('pong', 5000);
    const clockAt = pong ? (pinged + pong.at) / 2 : pinged;
    const sessionMs = pong?.ptsMs ?? 0;
    const offset = Math.min(...figures.arrivals.map((f) => f.at - f.ptsMs));
    let line = Math.floor(Math.random() * lines.length);
    while (performance.now() < until) {
      const asked = performance.now();
      const started = next('speech.started');
      channel.send(JSON.stringify({ type: 'speak', text: lines[line++ % lines.length] }));
      const event = await started;
      await next('speech.ended');
      if (event?.ptsMs !== undefined) {
        const rtpPts = clockAt + (event.ptsMs - sessionMs) - offset;
        const first = figures.arrivals.find((f) => f.ptsMs >= rtpPts - 500 / fps);
        if (first) figures.firstFrame.push(first.at - asked);
      }
      await sleep(pauseMs);
    }
    await fetch(location, { method: 'DELETE', headers });
  } catch (e) {
    figures.errors.push((e as Error).message);
  } finally {
    figures.seconds = (performance.now() - startedAt) / 1000;
    await pc.close().catch(() => undefined);
  }
  return figures;
}
