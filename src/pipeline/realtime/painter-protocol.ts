import type { RendererRequest } from '../../avatars/catalog.js';
import type { FrameRect } from '../../compose/jpeg.js';
import type { PaintRequest } from './frame-painter.js';

/** Messages a painter thread takes. Stages are named by a number the caller chooses. */
export type PainterCommand =
  | { readonly op: 'open'; readonly id: number; readonly stage: number; readonly avatar: string; readonly request: RendererRequest; readonly loopFrames: number }
  | { readonly op: 'paint'; readonly id: number; readonly stage: number; readonly request: PaintRequest }
  | { readonly op: 'paintRaw'; readonly id: number; readonly stage: number; readonly request: PaintRequest }
  | { readonly op: 'close'; readonly stage: number }
  | { readonly op: 'forget'; readonly avatar: string };

/** Replies of a painter thread, by the id of the command they answer. */
export type PainterReply =
  | { readonly id: number; readonly opened: { readonly width: number; readonly height: number; readonly speechRegion?: FrameRect } }
  /** The avatar's renderer is driven by audio: it paints on the caller's thread (its inference runs off-thread already). */
  | { readonly id: number; readonly audioDriven: true }
  | { readonly id: number; readonly jpeg: Uint8Array }
  | { readonly id: number; readonly i420: Uint8Array }
  | { readonly id: number; readonly error: { readonly code?: string; readonly message: string } };
