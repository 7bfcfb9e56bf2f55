import type { ServerEvent } from '../src/client/protocol.js';
import { WebRtcSession, type WebRtcStats } from '../src/client/webrtc-client.js';

/**
 * The page's WebRTC mode: the session plays in the `<video>` element (picture and voice,
 * synchronised by the browser), the microphone goes as an audio track with echo
 * cancellation, and `getStats()` figures are sampled once a second for display.
 */
export class WebRtcView {
  private session: WebRtcSession | undefined;
  private microphone: MediaStream | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The latest figures (undefined until the first sample). */
  latest: WebRtcStats | undefined;

  constructor(private readonly video: HTMLVideoElement, private readonly onEvent: (event: ServerEvent) => void, private readonly onClose: () => void) {}

  get connected(): boolean {
    return this.session !== undefined;
  }

  get microphoneOn(): boolean {
    return this.microphone !== undefined;
  }

  async connect(avatar: string, headers: Record<string, string>): Promise<void> {
    this.close();
    const url = new URL('/api/v1/realtime/webrtc', location.href);
    url.searchParams.set('avatar', avatar);
    const codec = new URLSearchParams(location.search).get('codec')?.toUpperCase();
    const session = await WebRtcSession.connect(url.href, {
      headers, onEvent: this.onEvent,
      ...(codec === 'VP8' || codec === 'H264' ? { codec } : {}),
      onClose: () => {
        if (this.session === session) {
          this.session = undefined;
          this.onClose();
        }
      },
    });
    this.session = session;
    this.video.srcObject = session.stream;
    this.video.muted = false;
    // A browser that refuses sound before a click still shows the picture; Speak unmutes.
    await this.video.play().catch(() => {
      this.video.muted = true;
      return this.video.play().catch(() => undefined);
    });
    this.timer = setInterval(() => void session.stats().then((s) => (this.latest = s), () => undefined), 1000);
  }

  /** Figures now (for tests and the console). */
  stats(): Promise<WebRtcStats | undefined> {
    return this.session ? this.session.stats() : Promise.resolve(undefined);
  }

  speak(text: string, language: string): void {
    this.unmute();
    this.session?.speak(text, { language });
  }

  interrupt(): void {
    this.session?.interrupt();
  }

  switchAvatar(avatar: string): void {
    this.session?.switchAvatar(avatar);
  }

  /** Turns the microphone on or off; resolves to whether it is on. */
  async toggleMicrophone(): Promise<boolean> {
    if (!this.session) throw new Error('not connected');
    if (this.microphone) {
      await this.session.stopMicrophone();
      for (const track of this.microphone.getTracks()) track.stop();
      this.microphone = undefined;
      return false;
    }
    this.microphone = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    await this.session.startMicrophone(this.microphone.getAudioTracks()[0]!);
    return true;
  }

  close(): void {
    clearInterval(this.timer);
    for (const track of this.microphone?.getTracks() ?? []) track.stop();
    this.microphone = undefined;
    const session = this.session;
    this.session = undefined;
    session?.close();
    this.latest = undefined;
    if (this.video.srcObject) this.video.srcObject = null;
  }

  private unmute(): void {
    if (!this.video.muted) return;
    this.video.muted = false;
    void this.video.play().catch(() => undefined);
  }
}
