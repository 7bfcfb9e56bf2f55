/**
 * Plays /api/v1/generate/stream (fragmented MP4) in a <video> through Media Source
 * Extensions, appending fragments as they arrive.
 */
export class StreamPlayer {
  private controller: AbortController | undefined;

  constructor(private readonly video: HTMLVideoElement) {}

  /** Starts playing; resolves when the first frame is on screen, with the latency from the request in ms. */
  async play(body: Record<string, unknown>, headers: Record<string, string>): Promise<number> {
    this.stop();
    const controller = (this.controller = new AbortController());
    const started = performance.now();
    const source = new MediaSource();
    this.video.src = URL.createObjectURL(source);
    await new Promise((resolve) => source.addEventListener('sourceopen', resolve, { once: true }));
    const response = await fetch('/api/v1/generate/stream', {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) {
      const error = (await response.json().catch(() => ({}))) as { message?: string };
      throw new Error(error.message ?? `the stream failed (${response.status})`);
    }
    const buffer = source.addSourceBuffer('video/mp4; codecs="avc1.640028, mp4a.40.2"');
    const reader = response.body!.getReader();
    const append = (chunk: Uint8Array) => new Promise<void>((resolve, reject) => {
      buffer.addEventListener('updateend', () => resolve(), { once: true });
      buffer.addEventListener('error', () => reject(new Error('the browser could not append the stream')), { once: true });
      buffer.appendBuffer(chunk as BufferSource);
    });
    const firstFrame = new Promise<number>((resolve) => {
      const onFrame = () => resolve(performance.now() - started);
      const target = this.video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };
      if (target.requestVideoFrameCallback) target.requestVideoFrameCallback(onFrame);
      else this.video.addEventListener('playing', onFrame, { once: true });
    });
    void (async () => {
      try {
        let playing = false;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await append(value);
          if (!playing) {
            playing = true;
            void this.video.play().catch(() => undefined);
          }
        }
        if (source.readyState === 'open') source.endOfStream();
      } catch {
        // Aborted by stop(), or the connection dropped: what arrived still plays.
      }
    })();
    return firstFrame;
  }

  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    this.video.pause();
  }
}
