/**
 * What renderers are given about an avatar: its frames, and the mouth geometry measured
 * on them. Avatars (folders, registry) produce these; renderers only read them.
 */

/** A point in image pixels. */
export type Point = readonly [x: number, y: number];

/** Inner and outer lip lines, each from one corner to the other, in image pixels. */
export interface LipLines {
  readonly upperInner: readonly Point[];
  readonly lowerInner: readonly Point[];
  readonly upperOuter: readonly Point[];
  readonly lowerOuter: readonly Point[];
}

/** Per-frame mouth measure in `mouth.json`, in the frame's pixels. */
export interface FrameMouth {
  /** Lip-corner midpoint. */
  readonly cx: number;
  readonly cy: number;
  /** Corner-to-corner width. */
  readonly width: number;
  /** Inner lip gap. */
  readonly open: number;
  /** Bottom of the nose (stable under mouth motion), for aligning frames. */
  readonly ax: number;
  readonly ay: number;
  /** Chin height (lowest face-outline point). */
  readonly chinY: number;
  /** Landmarks for aligning and masking the face (absent in folders made before they were stored). */
  readonly face?: FaceShape;
}

/** The parts of a face that a renderer aligns on and blends within, in the frame's pixels. */
export interface FaceShape {
  /**
   * Points of the rigid part of the head, which speech does not move, as x,y pairs: the
   * outer and inner corners of both eyes, the nose bridge, the nose tip and the nose bottom.
   */
  readonly align: readonly number[];
  /** Face contour from one cheekbone down round the chin to the other, as x,y pairs. */
  readonly jaw: readonly number[];
  /** Head turn: about -1 (profile to one side) to 1 (the other); 0 frontal. */
  readonly yaw: number;
  /** Head tilt up/down, about -1..1; 0 level. */
  readonly pitch: number;
}

/** `mouth.json`: measured mouth shape per frame, plus the lip lines of frame 0 for warping. */
export interface MouthFile {
  readonly version: number;
  readonly frames: readonly FrameMouth[];
  /** Inner and outer lip lines of the first frame, corner to corner. */
  readonly lips: LipLines;
  /** True when geometry was estimated from crop rectangles rather than measured. */
  readonly estimated?: boolean;
}

/** An avatar's stored frames, decoded to I420 on demand. */
export interface FrameSource {
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  /** Frame i as I420 (shared: do not write into it). */
  frame(index: number): Promise<Uint8Array>;
  /** Frame i if it is decoded already. */
  peek(index: number): Uint8Array | undefined;
}
