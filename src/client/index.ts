/**
 * realtime-avatar/client: what a page or a Node program needs to run a realtime session,
 * without the server's dependencies (this folder imports nothing outside itself).
 *
 * ```ts
 * import { playRealtimeSession } from 'realtime-avatar/client';
 * const { client } = await playRealtimeSession('ws://localhost:8000/api/v1/realtime?avatar=default', canvas);
 * client.speak('Hello!');
 * ```
 */
import { RealtimeClient, type RealtimeHandlers, type WebSocketConstructor } from './realtime-client.js';
import { RealtimePlayer } from './realtime-player.js';

export * from './protocol.js';
export { RealtimeClient, type RealtimeHandlers, type WebSocketConstructor, type WebSocketLike } from './realtime-client.js';
export { RealtimePlayer, type PlayerStats } from './realtime-player.js';
export { WebRtcSession, type WebRtcSessionOptions, type WebRtcStats } from './webrtc-client.js';

/** A session being played on a canvas, with its sound through Web Audio. */
export interface PlayingSession {
  readonly client: RealtimeClient;
  readonly player: RealtimePlayer;
  /** Closes the session and stops playing. */
  stop(): void;
}

/**
 * Browser: opens a realtime session at `url` and plays it on `canvas` (frames) and `audio`
 * (speech, in sync on the session clock); interrupts cut the sound at once. `handlers`
 * see every frame, audio chunk and event as well. Resume the AudioContext from a user
 * gesture where the browser requires one.
 */
export async function playRealtimeSession(url: string, canvas: HTMLCanvasElement, options: { audio?: AudioContext; handlers?: RealtimeHandlers; WebSocket?: WebSocketConstructor } = {}): Promise<PlayingSession> {
  const audio = options.audio ?? new AudioContext();
  const player = new RealtimePlayer(canvas, audio);
  const handlers = options.handlers ?? {};
  const client = await RealtimeClient.connect(url, {
    ...handlers,
    onFrame: (f) => {
      void player.addFrame(f.ptsMs, f.speaking, f.jpeg, f.patch);
      handlers.onFrame?.(f);
    },
    onAudio: (a) => {
      player.addAudio(a.ptsMs, a.sampleRate, a.pcm);
      handlers.onAudio?.(a);
    },
    onEvent: (e) => {
      if (e.type === 'speech.ended' && e.reason === 'interrupted') player.stopAudioFrom(e.ptsMs);
      handlers.onEvent?.(e);
    },
  }, options.WebSocket);
  return { client, player, stop: () => { client.close(); player.stop(); } };
}
