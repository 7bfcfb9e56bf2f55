import { decodeMediaMessage, type ClientMessage, type MediaMessage, type ServerEvent } from './protocol.js';

/** The part of the WebSocket API the client uses: the browser's, or the `ws` package's. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor (globalThis.WebSocket in browsers, `ws` in Node). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Callbacks for what the server sends. */
export interface RealtimeHandlers {
  onFrame?(frame: Extract<MediaMessage, { kind: 'video' }>): void;
  onAudio?(audio: Extract<MediaMessage, { kind: 'audio' }>): void;
  onEvent?(event: ServerEvent): void;
  onClose?(code: number, reason: string): void;
}

/**
 * Client of the realtime session protocol (docs/realtime-protocol.md): connect, then
 * speak text, stream PCM, interrupt and switch avatars; frames, audio and events arrive
 * through the handlers. Works in browsers and in Node (pass the `ws` constructor).
 */
export class RealtimeClient {
  private readonly waiters: { match: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void; reject: (e: Error) => void }[] = [];
  /** The session.started event: size, fps and the session id. */
  session: Extract<ServerEvent, { type: 'session.started' }> | undefined;

  private constructor(private readonly socket: WebSocketLike, private readonly handlers: RealtimeHandlers) {}

  /** Opens a session at `url` (ws://host/api/v1/realtime?avatar=...); resolves once the server has started it. */
  static connect(url: string, handlers: RealtimeHandlers = {}, WebSocketImpl?: WebSocketConstructor): Promise<RealtimeClient> {
    const Impl = WebSocketImpl ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) throw new Error('no WebSocket implementation: pass one (e.g. the ws package) to RealtimeClient.connect');
    const socket = new Impl(url);
    socket.binaryType = 'arraybuffer';
    const client = new RealtimeClient(socket, handlers);
    return new Promise((resolve, reject) => {
      socket.onerror = () => reject(new Error(`cannot open a realtime session at ${url}`));
      socket.onclose = (e) => {
        const error = new Error(`the session closed (${e.code} ${e.reason})`);
        reject(error);
        // Nobody waits for events of a closed session.
        for (const waiter of client.waiters.splice(0)) waiter.reject(error);
        handlers.onClose?.(e.code, e.reason);
      };
      socket.onmessage = (e) => client.receive(e.data);
      client.waitFor('session.started').then((started) => {
        client.session = started as Extract<ServerEvent, { type: 'session.started' }>;
        socket.onerror = null;
        resolve(client);
      }, reject);
    });
  }

  speak(text: string, options: { language?: string; voice?: string; id?: string } = {}): void {
    this.send({ type: 'speak', text, ...options });
  }

  interrupt(): void {
    this.send({ type: 'interrupt' });
  }

  /** Starts streamed speech: PCM (mono s16) follows with sendAudio, then endAudio. `echo` sends it back in sync with the frames. */
  startAudio(options: { sampleRate?: number; echo?: boolean; id?: string } = {}): void {
    this.audioOpen = true;
    this.send({ type: 'audio.start', ...options });
  }

  /** Sends PCM of the streamed speech; dropped outside audio.start..audio.end (a capture may deliver a last buffer after it stopped). */
  sendAudio(pcm: Int16Array): void {
    if (!this.audioOpen) return;
    this.socket.send(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  endAudio(): void {
    this.audioOpen = false;
    this.send({ type: 'audio.end' });
  }

  /** True between startAudio and endAudio. */
  private audioOpen = false;

  switchAvatar(avatar: string): void {
    this.send({ type: 'avatar', avatar });
  }

  /** The next event of `type` (and matching `match`), or a rejection after `timeoutMs`. */
  waitFor(type: ServerEvent['type'], match: (e: ServerEvent) => boolean = () => true, timeoutMs = 10000): Promise<ServerEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        match: (e: ServerEvent) => e.type === type && match(e),
        resolve: (e: ServerEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.close(1000, 'bye');
  }

  private send(message: ClientMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  private receive(data: unknown): void {
    if (typeof data === 'string') {
      const event = JSON.parse(data) as ServerEvent;
      for (let i = 0; i < this.waiters.length; i++) {
        if (this.waiters[i]!.match(event)) {
          this.waiters.splice(i, 1)[0]!.resolve(event);
          break;
        }
      }
      this.handlers.onEvent?.(event);
      return;
    }
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
    if (!bytes) return;
    const message = decodeMediaMessage(bytes);
    if (message.kind === 'video') this.handlers.onFrame?.(message);
    else this.handlers.onAudio?.(message);
  }
}
