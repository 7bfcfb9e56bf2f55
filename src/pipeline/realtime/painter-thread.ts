/**
 * A realtime painter thread: opens the same avatars as the server's catalog and draws and
 * compresses speech frames for the stages it is given, or draws raw frames straight into
 * video encoders' inputs (Unix sockets the encoders read), so the server's event loop only
 * paces and sends. Commands and replies are in `painter-protocol.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openCatalog, type CatalogDescription } from '../../avatars/catalog-description.js';
import { SharpJpegEncoder } from '../../compose/jpeg.js';
import { AvatarError } from '../../core/errors.js';
import { eachMessage, MessageBatcher } from '../../core/message-batch.js';
import { LocalFramePainter } from './frame-painter.js';
import type { PainterCommand, PainterReply } from './painter-protocol.js';
import { UnixFrameInput } from './unix-frame-input.js';

const { catalog: description, jpegQuality } = workerData as { catalog: CatalogDescription; jpegQuality: number };
const catalog = openCatalog(description);
const jpeg = new SharpJpegEncoder(jpegQuality);
const stages = new Map<number, Promise<LocalFramePainter>>();
/** Video encoder inputs by socket path, each with the last picture going into it (pictures go in request order). */
const inputs = new Map<string, { input: Promise<UnixFrameInput>; last: Promise<unknown> }>();

/** Replies of one turn travel together. */
const replies = new MessageBatcher<PainterReply>(parentPort!);

function reply(message: PainterReply, transfer: ArrayBuffer[] = []): void {
  replies.post(message, transfer);
}

function failure(id: number, e: unknown): PainterReply {
  return { id, error: { ...(e instanceof AvatarError ? { code: e.code } : {}), message: e instanceof Error ? e.message : String(e) } };
}

async function open(command: Extract<PainterCommand, { op: 'open' }>): Promise<void> {
  const avatars = await catalog;
  // An avatar uploaded since this thread's last rescan is read now.
  if (!avatars.get(command.avatar)) await avatars.refreshAvatar?.(command.avatar);
  const renderer = await avatars.createRenderer(command.avatar, command.request);
  if (renderer.createAudioConditioning) return reply({ id: command.id, audioDriven: true });
  const painter = LocalFramePainter.create(renderer, jpeg, command.loopFrames, command.request.fps, command.measureRegion);
  stages.set(command.stage, painter);
  const { width, height, speechRegion } = await painter;
  reply({ id: command.id, opened: { width, height, ...(speechRegion ? { speechRegion } : {}) } });
}

async function paint(command: Extract<PainterCommand, { op: 'paint' }>): Promise<void> {
  const painter = stages.get(command.stage);
  if (!painter) throw new Error(`painter thread: no stage ${command.stage}`);
  const buffer = await (await painter).paint(command.request);
  // A copy the reply can own: sharp's buffers may share a pooled ArrayBuffer.
  const bytes = new Uint8Array(buffer);
  reply({ id: command.id, jpeg: bytes }, [bytes.buffer]);
}

async function paintRaw(command: Extract<PainterCommand, { op: 'paintRaw' }>): Promise<void> {
  const painter = stages.get(command.stage);
  if (!painter) throw new Error(`painter thread: no stage ${command.stage}`);
  const frame = await (await painter).paintRaw(command.request);
  // The renderer reuses its buffers: the reply gets a copy it can own.
  const bytes = frame.data.slice();
  frame.release?.();
  reply({ id: command.id, i420: bytes }, [bytes.buffer]);
}

function openInput(command: Extract<PainterCommand, { op: 'openInput' }>): void {
  const input = UnixFrameInput.listen(command.path);
  inputs.set(command.path, { input, last: input });
  input.then(() => reply({ id: command.id, written: true }), (e: unknown) => {
    inputs.delete(command.path);
    reply(failure(command.id, e));
  });
}

function paintInto(command: Extract<PainterCommand, { op: 'paintInto' }>): void {
  const entry = inputs.get(command.path);
  const painter = stages.get(command.stage);
  if (!entry || !painter) {
    reply(entry ? failure(command.id, new Error(`painter thread: no stage ${command.stage}`)) : { id: command.id, written: false });
    return;
  }
  const done = entry.last.then(async () => {
    const input = await entry.input;
    const frame = await (await painter).paintRaw(command.request);
    return input.write(frame);
  });
  entry.last = done.catch(() => undefined);
  done.then((written) => reply({ id: command.id, written }), (e: unknown) => reply(failure(command.id, e)));
}

function closeInput(path: string): void {
  const entry = inputs.get(path);
  inputs.delete(path);
  void entry?.input.then((input) => input.close(), () => undefined);
}

parentPort!.on('message', eachMessage((command: PainterCommand) => {
  switch (command.op) {
    case 'open':
      open(command).catch((e: unknown) => {
        stages.delete(command.stage);
        reply(failure(command.id, e));
      });
      break;
    case 'paint':
      paint(command).catch((e: unknown) => reply(failure(command.id, e)));
      break;
    case 'paintRaw':
      paintRaw(command).catch((e: unknown) => reply(failure(command.id, e)));
      break;
    case 'openInput':
      openInput(command);
      break;
    case 'paintInto':
      paintInto(command);
      break;
    case 'closeInput':
      closeInput(command.path);
      break;
    case 'close':
      stages.delete(command.stage);
      break;
    case 'forget':
      void catalog.then((avatars) => avatars.refreshAvatar?.(command.avatar)).catch(() => undefined);
      break;
  }
}));
