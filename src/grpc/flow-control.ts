import type * as grpc from '@grpc/grpc-js';
import http2, { type Http2Server, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * HTTP/2 receive window for batch-sized messages. Seed 002's requests are ~60 MB; at
 * HTTP/2's default 64 KB window a sender stops for a window update every 64 KB, which
 * costs more than the copy itself. 1 GiB windows let a batch flow in one go on a fast
 * link; memory stays bounded by max_message_size_mb, which grpc-js enforces.
 */
export const FLOW_CONTROL_WINDOW = 1 << 30;

/** Largest HTTP/2 frame the receiver accepts (the protocol's maximum), so batches travel in few frames. */
const MAX_FRAME_SIZE = (1 << 24) - 1;

/** Client channel options that raise the receive window (grpc-js's own option). */
export const WIDE_WINDOW_CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW };

/**
 * Raises a bound grpc-js server's receive windows and frame size, and turns Nagle's delay
 * off on its connections. grpc-js has no option for the server side, so this reaches its
 * HTTP/2 servers (the `http2Servers` map that grpc-js 1.14 keeps); with another layout it
 * does nothing and the defaults stay (slower, correct).
 */
export function widenServerFlowControl(server: grpc.Server): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map)) return;
  for (const http2 of http2Servers.keys()) {
    if (typeof http2.updateSettings !== 'function') continue;
    http2.updateSettings({ initialWindowSize: FLOW_CONTROL_WINDOW - 1, maxFrameSize: MAX_FRAME_SIZE });
    // The last part of an answer goes out at once instead of waiting for the client's
    // acknowledgement of the part before (Nagle's algorithm); grpc-js does so for its clients.
    http2.on('connection', (socket: Socket) => socket.setNoDelay(true));
    http2.on('session', (session: Http2Session) => {
      session.once('localSettings', () => {
        try {
          session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
        } catch {
          // a closed session: nothing to widen
        }
      });
    });
  }
}

let largeClientFrames = false;

/**
 * Makes this process's HTTP/2 client sessions accept frames of up to 16 MB (the protocol's
 * maximum). grpc-js has no option for it, so its sessions announce HTTP/2's default of
 * 16 KB, and a batch's 4.3 MB model output comes back as ~270 frames, each an event of its
 * own in grpc-js's decoder: about 0.3 ms per video frame of the compositing -> inference
 * hop (`npm run bench:grpc`). This wraps `http2.connect`, which grpc-js calls when it
 * connects, to add the setting wherever the caller sets no frame size; every HTTP/2
 * client of the process is affected alike (a peer may then send larger frames, nothing
 * else changes). Idempotent.
 */
export function acceptLargeClientFrames(): void {
  if (largeClientFrames) return;
  largeClientFrames = true;
  type Listener = (session: http2.ClientHttp2Session, socket: unknown) => void;
  const connect = http2.connect.bind(http2) as (authority: string | URL, options?: http2.ClientSessionOptions, listener?: Listener) => http2.ClientHttp2Session;
  (http2 as { connect: unknown }).connect = (authority: string | URL, optionsOrListener?: http2.ClientSessionOptions | Listener, listener?: Listener) => {
    // connect(authority, listener) is a form of its own.
    const options = typeof optionsOrListener === 'function' ? undefined : optionsOrListener;
    const callback = typeof optionsOrListener === 'function' ? optionsOrListener : listener;
    const settings = { maxFrameSize: MAX_FRAME_SIZE, ...options?.settings };
    return connect(authority, { ...options, settings }, callback);
  };
}
