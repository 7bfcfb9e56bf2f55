import type { FaceGeometry } from './face-landmarks.js';

/** Limits a source must meet to become an avatar that can look right. */
export interface QualityLimits {
  /** Head turn (FaceShape.yaw, 0 frontal, 1 profile) beyond which the mouth cannot be warped or pasted believably. */
  readonly maxYaw: number;
  /** Head tilt up/down (FaceShape.pitch). */
  readonly maxPitch: number;
  /** Face-mesh confidence below which the lip points are guesses. */
  readonly minMeshScore: number;
  /** Narrowest face (box width, source pixels) that has enough pixels for a mouth. */
  readonly minFacePx: number;
  /** Share of a video's frames that may fail a gate. */
  readonly maxFailingShare: number;
}

export const DEFAULT_QUALITY_LIMITS: QualityLimits = { maxYaw: 0.6, maxPitch: 0.55, minMeshScore: 0.6, minFacePx: 80, maxFailingShare: 0.5 };

/** A face narrower than this share of the picture is framed by `--crop face` unless told otherwise. */
export const SMALL_FACE_SHARE = 0.22;

/**
 * Why the main faces of a source (one per frame; undefined: none found) cannot make a good
 * avatar: one reason per gate that more than `maxFailingShare` of the frames fail (all of
 * them for a photo), each with the measured figure. Empty when the source passes.
 * `scale` converts measured pixels to source pixels.
 */
export function qualityProblems(faces: readonly (FaceGeometry | undefined)[], limits: QualityLimits = DEFAULT_QUALITY_LIMITS, scale = 1): string[] {
  const found = faces.filter((f): f is FaceGeometry => f !== undefined);
  if (found.length === 0) return [];
  const allowed = faces.length === 1 ? 0 : Math.floor(faces.length * limits.maxFailingShare);
  const problems: string[] = [];
  const gate = (failing: FaceGeometry[], figure: (f: FaceGeometry) => number, say: (v: number) => string) => {
    if (failing.length > allowed) problems.push(say(median(failing.map(figure))));
  };
  const yaw = (f: FaceGeometry) => Math.abs(f.shape?.yaw ?? 0);
  const pitch = (f: FaceGeometry) => Math.abs(f.shape?.pitch ?? 0);
  const score = (f: FaceGeometry) => f.meshScore ?? 1;
  const size = (f: FaceGeometry) => (f.box[2] - f.box[0]) * scale;
  gate(found.filter((f) => yaw(f) > limits.maxYaw), yaw, (v) => `the face is turned too far to the side (yaw ${v.toFixed(2)}, limit ${limits.maxYaw}; 1 is a profile)`);
  gate(found.filter((f) => pitch(f) > limits.maxPitch), pitch, (v) => `the face is tilted too far up or down (pitch ${v.toFixed(2)}, limit ${limits.maxPitch})`);
  gate(found.filter((f) => score(f) < limits.minMeshScore), score, (v) => `the mouth landmarks are not confident (face mesh score ${v.toFixed(2)}, at least ${limits.minMeshScore}); is the face hidden in part?`);
  gate(found.filter((f) => size(f) < limits.minFacePx), size, (v) => `the face is too small (${Math.round(v)} px wide; at least ${limits.minFacePx} px)`);
  return problems;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
}
