import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bounds } from '../core/geometry.js';
import type { FaceShape, LipLines, Point } from '../render/avatar-input.js';

export type { FaceShape, LipLines, Point };

/** Mesh points (MediaPipe face mesh numbering) of the rigid head: eye corners, nose bridge, tip, bottom. */
const ALIGN_POINTS = [33, 133, 362, 263, 168, 6, 1, 2];
/** Face-outline points from the right cheekbone down round the chin to the left one. */
const JAW_POINTS = [454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234];
const NOSE_TIP = 1;
const EYE_OUTER = [33, 263] as const;
const FOREHEAD = 10;
const CHIN = 152;



/** The mouth as a face-landmark model measures it, in image pixels. */
export interface MouthGeometry extends LipLines {
  /** Midpoint of the two lip corners. */
  readonly center: Point;
  /** Corner-to-corner distance of the outer lip line. */
  readonly width: number;
  /** Gap between the inner lip lines at the middle of the mouth (0 when closed). */
  readonly openness: number;
}

/** One face found in an image. */
export interface FaceGeometry {
  readonly score: number;
  /** Face box [x1, y1, x2, y2]. */
  readonly box: Bounds;
  readonly mouth: MouthGeometry;
  /** Bottom of the nose: a point that does not move when the mouth opens. */
  readonly noseBottom: Point;
  /** Lowest point of the face outline. */
  readonly chin: Point;
  /** Alignment points, jaw contour and head pose (see FaceShape); absent from landmarkers without a mesh. */
  readonly shape?: FaceShape;
  /** Confidence of the mesh (and so of its lip points), 0..1. */
  readonly meshScore?: number;
}

/** Finds faces and their mouth geometry in RGB images. */
export interface FaceLandmarker {
  /** Faces in an interleaved RGB image (3 bytes a pixel), best first. */
  detect(rgb: Uint8Array, width: number, height: number): Promise<FaceGeometry[]>;
}

/** The parts of the face-landmark library this module uses. */
interface HumanFace {
  score: number;
  faceScore?: number;
  box: [number, number, number, number];
  annotations: Record<string, [number, number, number?][]>;
  mesh: [number, number, number?][];
}
interface HumanInstance {
  load(): Promise<void>;
  detect(input: unknown): Promise<{ face: HumanFace[] }>;
  tf: { tensor4d(data: Uint8Array, shape: number[], dtype: string): { dispose(): void } };
}

/**
 * Face detection and a 468-point face mesh from `@vladmandic/human`, whose weights ship
 * inside its npm package, on the TensorFlow.js WebAssembly backend (no native build, no
 * download). About 50 ms a 512x512 frame on one core. One instance per thread: the
 * library keeps global TensorFlow state.
 */
export class MeshFaceLandmarker implements FaceLandmarker {
  private constructor(private readonly human: HumanInstance) {}

  private static shared: Promise<MeshFaceLandmarker> | undefined;

  /** The thread's landmarker, loaded on first use (~0.3 s). */
  static get(): Promise<MeshFaceLandmarker> {
    MeshFaceLandmarker.shared ??= MeshFaceLandmarker.load();
    MeshFaceLandmarker.shared.catch(() => { MeshFaceLandmarker.shared = undefined; });
    return MeshFaceLandmarker.shared;
  }

  private static async load(): Promise<MeshFaceLandmarker> {
    const require = createRequire(import.meta.url);
    // The package's export map names no Node WebAssembly entry; load the file by path.
    const nodeEntry = require.resolve('@vladmandic/human');
    const lib = require(join(dirname(nodeEntry), 'human.node-wasm.js')) as { Human: new (config: object) => HumanInstance };
    const modelDir = join(dirname(nodeEntry), '..', 'models');
    const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
    const human = new lib.Human({
      backend: 'wasm',
      wasmPath: wasmDir,
      modelBasePath: pathToFileURL(modelDir).href + '/',
      debug: false,
      // Every frame is measured on its own: no result caching between calls.
      cacheSensitivity: 0,
      face: {
        enabled: true,
        detector: { rotation: false, maxDetected: 4, skipFrames: 0, minConfidence: 0.4, return: false },
        mesh: { enabled: true },
        attention: { enabled: false }, iris: { enabled: false }, emotion: { enabled: false },
        description: { enabled: false }, antispoof: { enabled: false }, liveness: { enabled: false },
      },
      body: { enabled: false }, hand: { enabled: false }, object: { enabled: false },
      gesture: { enabled: false }, segmentation: { enabled: false }, filter: { enabled: false },
    });
    await withFileFetch(() => human.load());
    return new MeshFaceLandmarker(human);
  }

  async detect(rgb: Uint8Array, width: number, height: number): Promise<FaceGeometry[]> {
    if (rgb.length !== width * height * 3) throw new Error(`RGB image of ${width}x${height} needs ${width * height * 3} bytes, got ${rgb.length}`);
    const tensor = this.human.tf.tensor4d(rgb, [1, height, width, 3], 'int32');
    try {
      const result = await this.human.detect(tensor);
      return result.face.filter((f) => f.mesh.length >= 468).map(toGeometry).sort((a, b) => b.score - a.score);
    } finally {
      tensor.dispose();
    }
  }
}

function toGeometry(face: HumanFace): FaceGeometry {
  const a = face.annotations;
  const pts = (name: string): Point[] => (a[name] ?? []).map((p) => [p[0], p[1]] as const);
  const upperInner = pts('lipsUpperInner');
  const lowerInner = pts('lipsLowerInner');
  const upperOuter = pts('lipsUpperOuter');
  const lowerOuter = pts('lipsLowerOuter');
  const left = upperOuter[0]!;
  const right = upperOuter[upperOuter.length - 1]!;
  const mid = (line: Point[]) => line[line.length >> 1]!;
  const openness = Math.max(0, mid(lowerInner)[1] - mid(upperInner)[1]);
  const silhouette = pts('silhouette');
  const chin = silhouette.reduce((best, p) => (p[1] > best[1] ? p : best), silhouette[0] ?? [0, 0]);
  const noseBottom = pts('noseBottom')[0] ?? [(left[0] + right[0]) / 2, face.box[1] + face.box[3] * 0.6];
  const [x, y, w, h] = face.box;
  return {
    shape: faceShape(face.mesh),
    meshScore: face.faceScore ?? face.score,
    score: face.score,
    box: [x, y, x + w, y + h],
    mouth: {
      center: [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2],
      width: Math.hypot(right[0] - left[0], right[1] - left[1]),
      openness, upperInner, lowerInner, upperOuter, lowerOuter,
    },
    noseBottom,
    chin,
  };
}

/**
 * Alignment points, jaw contour and a rough head pose from the 468-point mesh. Yaw is where
 * the nose tip lies between the two sides of the face outline (0 in the middle, +/-1 at an
 * edge: a profile); pitch is where it lies between forehead and chin, against a frontal
 * face's ~0.55.
 */
export function faceShape(mesh: readonly (readonly [number, number, number?])[]): FaceShape {
  const at = (i: number): readonly [number, number, number?] => mesh[i] ?? [0, 0];
  const flat = (ids: readonly number[]) => ids.flatMap((i) => [round1(at(i)[0]), round1(at(i)[1])]);
  const [lx, ly] = at(EYE_OUTER[0]);
  const [rx, ry] = at(EYE_OUTER[1]);
  // Project onto the eye line, so a tilted (rolled) head does not read as turned.
  const ux = rx - lx;
  const uy = ry - ly;
  const len = Math.hypot(ux, uy) || 1;
  const along = (i: number) => ((at(i)[0] - lx) * ux + (at(i)[1] - ly) * uy) / len;
  const across = (i: number) => ((at(i)[1] - ly) * ux - (at(i)[0] - lx) * uy) / len;
  const right = along(JAW_POINTS[0]!);
  const left = along(JAW_POINTS[JAW_POINTS.length - 1]!);
  const mid = (right + left) / 2;
  const half = Math.abs(right - left) / 2 || 1;
  const top = across(FOREHEAD);
  const bottom = across(CHIN);
  const pitch = (across(NOSE_TIP) - top) / (bottom - top || 1) - 0.55;
  return {
    align: flat(ALIGN_POINTS), jaw: flat(JAW_POINTS),
    yaw: round3((along(NOSE_TIP) - mid) / half), pitch: round3(pitch * 2),
  };
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Runs `task` with `fetch` able to read `file:` URLs, which the library uses to load its
 * weights and Node's fetch refuses. The original fetch is restored afterwards.
 */
async function withFileFetch<T>(task: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith('file:')) return new Response(await readFile(fileURLToPath(url)));
    return original(input, init);
  }) as typeof fetch;
  try {
    return await task();
  } finally {
    globalThis.fetch = original;
  }
}
