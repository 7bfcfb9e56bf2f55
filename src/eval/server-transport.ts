import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import type { MediaMessage } from '../client/protocol.js';
import type { WebSocketConstructor } from '../client/realtime-client.js';
import type { AvatarServer } from '../server/app.js';
import { probeMedia } from '../encode/media-probe.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a client of the progressive stream saw. */
export interface StreamFigures {
  /** From sending the request to the first byte of video. */
  readonly firstByteMs: number;
  /** From sending the request to the last byte. */
  readonly totalMs: number;
  readonly bytes: number;
  /** Duration of the audio received. */
  readonly durationS: number;
  readonly width: number;
  readonly height: number;
}

/** What a realtime client saw of one utterance. */
export interface RealtimeFigures {
  /** From sending `speak` to the first speaking frame received. */
  readonly firstFrameMs: number;
  /** From sending `speak` to `speech.ended`. */
  readonly totalMs: number;
  readonly frames: number;
  /** Frame slots that never arrived. */
  readonly missing: number;
  readonly audioS: number;
  readonly width: number;
  readonly height: number;
}

/** Quiet time recorded before `speak` and after `speech.ended`, ms. */
const SESSION_MARGIN_MS = 600;

/**
 * The `stream` and `realtime` transports: a real server in this process on a loopback
 * port, used over HTTP and WebSocket like any client. Streams are saved as they arrive;
 * realtime sessions are recorded and rebuilt into the picture and sound a client shows.
 * The server starts on first use and is shared by the scenarios of a run.
 */
export class ServerTransport {
  private server: Promise<{ server: AvatarServer; url: string; dataDir: string }> | undefined;

  constructor(private readonly catalog: AvatarCatalog) {}

  /** Streams `text` spoken by `avatar` into `output`; resolves once the last byte is written. */
  async render(request: { text: string; language: string; avatar: string; fps: number }, output: string, signal?: AbortSignal): Promise<StreamFigures> {
    const { url } = await this.start();
    const started = performance.now();
    const response = await fetch(`${url}/api/v1/generate/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok || !response.body) {
      const body = await response.text().catch(() => '');
      throw new AvatarError('invalid_input', `stream request failed: HTTP ${response.status} ${body.slice(0, 200)}`);
    }
    const file = createWriteStream(output);
    let firstByteMs = 0;
    let bytes = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
        if (!file.write(chunk)) await once(file, 'drain');
      }
    } finally {
      file.end();
      await once(file, 'close');
    }
    const totalMs = performance.now() - started;
    const [width, height] = (response.headers.get('x-video-size') ?? '0x0').split('x').map(Number);
    // The header may be an estimate (the server states it before all speech exists): the
    // duration reported is the one of the file received.
    const probe = await probeMedia(output);
    return { firstByteMs, totalMs, bytes, durationS: (probe.audio?.durationMs ?? probe.durationMs) / 1000, width: width ?? 0, height: height ?? 0 };
  }

  /**
   * Speaks the utterances one after another in one realtime session (each after the
   * previous one ended, with a pause) and rebuilds what the client received into `output`.
   * First-frame and total times are those of the first utterance.
   */
  async realtime(request: { utterances: readonly { text: string; language: string }[]; avatar: string; fps: number }, output: string): Promise<RealtimeFigures> {
    const { url } = await this.start();
    const { RealtimeClient } = await import('../client/realtime-client.js');
    const { default: WebSocket } = await import('ws');
    const { sessionToMp4 } = await import('./realtime-capture.js');
    const frames: Extract<MediaMessage, { kind: 'video' }>[] = [];
    const audio: Extract<MediaMessage, { kind: 'audio' }>[] = [];
    let spokeAt = 0;
    let firstSpeakingAt = 0;
    const wsUrl = `${url.replace(/^http/, 'ws')}/api/v1/realtime?avatar=${encodeURIComponent(request.avatar)}&fps=${request.fps}`;
    const client = await RealtimeClient.connect(wsUrl, {
      onFrame: (f) => {
        frames.push(f);
        if (f.speaking && spokeAt && !firstSpeakingAt) firstSpeakingAt = performance.now();
      },
      onAudio: (a) => audio.push(a),
    }, WebSocket as unknown as WebSocketConstructor);
    let endedAt = 0;
    try {
      for (const [i, u] of request.utterances.entries()) {
        await delay(SESSION_MARGIN_MS);
        if (i === 0) spokeAt = performance.now();
        client.speak(u.text, { language: u.language, id: `u${i}` });
        await client.waitFor('speech.ended', () => true, 60_000);
        if (i === 0) endedAt = performance.now();
      }
      await delay(SESSION_MARGIN_MS);
    } finally {
      client.close();
    }
    const clip = await sessionToMp4({ fps: request.fps, frames, audio }, output);
    const audioSamples = audio.reduce((n, a) => n + a.pcm.length, 0);
    return {
      firstFrameMs: firstSpeakingAt ? firstSpeakingAt - spokeAt : NaN, totalMs: endedAt - spokeAt,
      frames: clip.frames, missing: clip.missing, audioS: audio.length ? audioSamples / audio[0]!.sampleRate : 0, width: clip.width, height: clip.height,
    };
  }

  async close(): Promise<void> {
    const started = this.server;
    this.server = undefined;
    if (!started) return;
    const { server, dataDir } = await started;
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  private start(): Promise<{ server: AvatarServer; url: string; dataDir: string }> {
    this.server ??= (async () => {
      // Loaded here: runs without the stream transport never load the server.
      const { createAvatarServer } = await import('../server/app.js');
      const { validateConfig } = await import('../server/config.js');
      const dataDir = await mkdtemp(join(tmpdir(), 'avatar-eval-serve-'));
      const server = await createAvatarServer({
        config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, limits: { generationsPerMinute: 10_000 }, logLevel: 'warn' }),
        catalog: this.catalog,
        // Standard output carries the evaluator's report (--json): the server's log goes to stderr.
        logSink: process.stderr,
      });
      // Measured as a running server: engines warm, as `avatar serve` has them before listening.
      await server.warmUp();
      const { url } = await server.listen();
      return { server, url, dataDir };
    })();
    return this.server;
  }
}
