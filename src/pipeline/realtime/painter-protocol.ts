import type { RendererRequest } from '../../avatars/catalog.js';
import type { FrameRect } from '../../compose/jpeg.js';
import type { PaintRequest } from './frame-painter.js';

/** Messages a painter thread takes. Stages are named by a number the caller chooses. */
export type PainterCommand =
  | { readonly op: 'open'; readonly id: number; readonly stage: number; readonly avatar: string; readonly request: RendererRequest; readonly loopFrames: number; readonly measureRegion: boolean }
  | { readonly op: 'paint'; readonly id: number; readonly stage: number; readonly request: PaintRequest }
  | { readonly op: 'paintRaw'; readonly id: number; readonly stage: number; readonly request: PaintRequest }
  /** Listens for a video encoder at a Unix socket `path` (see UnixFrameInput). */
  | { readonly op: 'openInput'; readonly id: number; readonly path: string }
  /** Draws a picture of a stage and writes it into the encoder input at `path`. */
  | { readonly op: 'paintInto'; readonly id: number; readonly stage: number; readonly path: string; readonly request: PaintRequest }
  | { readonly op: 'closeInput'; readonly path: string }
  | { readonly op: 'close'; readonly stage: number }
  | { readonly op: 'forget'; readonly avatar: string };

/** Replies of a painter thread, by the id of the command they answer. */
export type PainterReply =
  | { readonly id: number; readonly opened: { readonly width: number; readonly height: number; readonly speechRegion?: FrameRect } }
  /** The avatar's renderer is driven by audio: it paints on the caller's thread (its inference runs off-thread already). */
  | { readonly id: number; readonly audioDriven: true }
  | { readonly id: number; readonly jpeg: Uint8Array }
  | { readonly id: number; readonly i420: Uint8Array }
  /** An encoder input listens (`openInput`), or a picture went into one (`paintInto`; false: the input had closed). */
  | { readonly id: number; readonly written: boolean }
  | { readonly id: number; readonly error: { readonly code?: string; readonly message: string } };
