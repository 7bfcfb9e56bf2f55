import { createServer, type Server, type Socket } from 'node:net';
import type { VideoFrame } from '../../core/frame.js';

/**
 * Frames written before the encoder has connected, at most: the caller keeps no more than a
 * few frames in flight, so more means the encoder never came.
 */
const MAX_WAITING_FRAMES = 8;

/**
 * One video encoder's raw frame input on a Unix socket: the encoder (ffmpeg, `-i unix:PATH`)
 * connects and reads I420 frames in the order they were written. Frames written before it
 * connects wait for it. One connection only: the socket file goes once the encoder is in.
 * Lets a painter thread hand its frames to the encoder directly, so 400 KB pictures never
 * cross threads.
 */
export class UnixFrameInput {
  private socket: Socket | undefined;
  private readonly waiting: VideoFrame[] = [];
  private closed = false;

  private constructor(private readonly server: Server) {}

  /** Listens at `path` (a file that must not exist); resolves once an encoder can connect. */
  static listen(path: string): Promise<UnixFrameInput> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      const input = new UnixFrameInput(server);
      server.once('error', reject);
      server.on('connection', (socket) => input.accept(socket));
      server.listen(path, () => {
        server.off('error', reject);
        server.on('error', () => input.close());
        resolve(input);
      });
    });
  }

  /**
   * Writes one frame after those before it and releases it once the bytes are out; false
   * (the frame released unwritten) when the input is closed or too many frames wait.
   */
  write(frame: VideoFrame): boolean {
    if (this.closed || (!this.socket && this.waiting.length >= MAX_WAITING_FRAMES)) {
      frame.release?.();
      return false;
    }
    if (this.socket) this.send(this.socket, frame);
    else this.waiting.push(frame);
    return true;
  }

  /** Stops listening and drops the connection; frames still waiting are released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    this.socket?.destroy();
    for (const frame of this.waiting.splice(0)) frame.release?.();
  }

  private accept(socket: Socket): void {
    if (this.closed || this.socket) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    // An encoder that exits or fails ends the input; its owner restarts both.
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    // One encoder per input: closing the server removes the socket file.
    this.server.close();
    for (const frame of this.waiting.splice(0)) this.send(socket, frame);
  }

  private send(socket: Socket, frame: VideoFrame): void {
    socket.write(frame.data, () => frame.release?.());
  }
}
