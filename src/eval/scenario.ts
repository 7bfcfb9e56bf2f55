import { access, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AvatarError } from '../core/errors.js';

/**
 * How a scenario makes its video:
 * - `text`: one text through `say()` (TTS, phoneme-timed mouth);
 * - `session`: several utterances, possibly in different languages, in one video;
 * - `audio`: the project's own TTS speech written to WAV, then fed back as plain audio to
 *   the audio-only mouth tracker (its accuracy is scored against the TTS timings);
 * - `audio-file`: a user's recording (WAV or anything ffmpeg reads), audio-only tracker.
 */
export type ScenarioKind = 'text' | 'session' | 'audio' | 'audio-file';
export const SCENARIO_KINDS: readonly ScenarioKind[] = ['text', 'session', 'audio', 'audio-file'];

/** Pass/fail floors and ceilings applied to a scenario's figures. Absent: not checked. */
export interface ScenarioChecks {
  /** |A/V offset| must not exceed this, ms (one frame at 25 fps is 40). */
  readonly maxAbsOffsetMs?: number;
  readonly minConfidence?: number;
  /** Stillness ratio (silent / speech mouth motion) must not exceed this. */
  readonly maxStillnessRatio?: number;
  /** Open/closed agreement of the audio tracker with the TTS track, 0..1. */
  readonly minOpenAgreement?: number;
  /** |video - audio duration|, ms. */
  readonly maxAvDurationDiffMs?: number;
  /** |drift| between the first and last 10 s, ms. */
  readonly maxAbsDriftMs?: number;
  /** 95th percentile of the seam/ghost score over frames (see seam-metric.ts). */
  readonly maxGhostP95?: number;
  /** Chroma of the output's lower face above the avatar's own (colour from nowhere). */
  readonly maxChromaGain?: number;
}

/** One utterance of a session. */
export interface Utterance {
  readonly text: string;
  /** `auto` or a language code. */
  readonly language: string;
}

/** One scenario, with suite defaults applied. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly kind: ScenarioKind;
  /** Utterances (one for `text` and `audio`, several for `session`, none for `audio-file`). */
  readonly utterances: readonly Utterance[];
  /** For `audio-file`: the recording. */
  readonly audioFile?: string;
  readonly avatar: string;
  /** Renderer the avatar must use (checked against the catalog); absent: any. */
  readonly renderer?: string;
  /**
   * `file` (say() writes an MP4), `stream` (a real server's progressive fMP4 over HTTP; text
   * scenarios). `realtime` is reserved: such scenarios are listed as skipped with the reason.
   */
  readonly transport: string;
  readonly fps: number;
  readonly checks: ScenarioChecks;
  readonly tags: readonly string[];
  /**
   * A photo or video the evaluator prepares as this scenario's avatar (`avatar` is its id).
   * A path that starts with `media:` is inside the media folder (`--media DIR`).
   */
  readonly avatarSource?: string;
  /** The avatar source must be refused by `prepare`: the scenario passes with the reason. */
  readonly expectRefused?: boolean;
  /** Prepare the avatar source with `force` (past the quality gates). */
  readonly forcePrepare?: boolean;
  /** Only the first this many ms of `audioFile` are spoken. */
  readonly audioMaxMs?: number;
  /** `mesh`: the mouth box for sync is found on the output by the face mesh (default: the renderer's box). */
  readonly mouth?: 'renderer' | 'mesh';
  /** Measure the seam/ghost score against the prepared avatar's frames. */
  readonly ghost?: boolean;
}

/** Prefix of scenario paths that lie in the media folder. */
export const MEDIA_PREFIX = 'media:';

/** A suite: scenarios plus where its gold figures live. */
export interface Suite {
  readonly name: string;
  readonly description: string;
  /** The suite file. */
  readonly path: string;
  /** The gold file (absolute), when the suite names one. */
  readonly gold?: string;
  readonly scenarios: Scenario[];
}

/** Folder of the suites that ship with the package. */
export const BUILTIN_SUITES_DIR = fileURLToPath(new URL('../../../eval/suites/', import.meta.url));

/** A suite by built-in name (`default`, `quick`) or by file path. */
export async function loadSuite(nameOrPath: string): Promise<Suite> {
  const builtin = /^[a-z0-9_-]+$/.test(nameOrPath) ? resolve(BUILTIN_SUITES_DIR, `${nameOrPath}.json`) : undefined;
  let path = resolve(nameOrPath);
  if (builtin && (await exists(builtin)) && !(await exists(path))) path = builtin;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new AvatarError('invalid_input', `no suite "${nameOrPath}": not a built-in suite (default, quick, real) nor a readable file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AvatarError('invalid_input', `suite ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseSuite(json, path);
}

/** Validates a suite document; every problem is an invalid_input error naming the field. */
export function parseSuite(json: unknown, path: string): Suite {
  const where = (field: string) => `suite ${path}: ${field}`;
  const doc = asObject(json, where('the document'));
  const defaults = doc.defaults === undefined ? {} : asObject(doc.defaults, where('defaults'));
  const list = doc.scenarios;
  if (!Array.isArray(list) || list.length === 0) throw new AvatarError('invalid_input', where('"scenarios" must be a non-empty list'));
  const suiteChecks = doc.checks === undefined ? {} : parseChecks(doc.checks, where('checks'));
  const base = dirname(path);
  const seen = new Set<string>();
  const scenarios = list.map((raw, i) => {
    const s = asObject(raw, where(`scenarios[${i}]`));
    const id = str(s.id, where(`scenarios[${i}].id`));
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) throw new AvatarError('invalid_input', where(`scenario id "${id}" must be lowercase letters, digits, - or _`));
    if (seen.has(id)) throw new AvatarError('invalid_input', where(`scenario id "${id}" appears twice`));
    seen.add(id);
    const at = (f: string) => where(`scenario "${id}": ${f}`);
    const merged = { ...defaults, ...s };
    const kind = str(merged.kind ?? 'text', at('kind')) as ScenarioKind;
    if (!SCENARIO_KINDS.includes(kind)) throw new AvatarError('invalid_input', at(`kind "${kind}" is not one of ${SCENARIO_KINDS.join(', ')}`));
    let utterances: Utterance[] = [];
    if (kind === 'session') {
      if (!Array.isArray(s.utterances) || s.utterances.length < 2) throw new AvatarError('invalid_input', at('a session needs "utterances": a list of at least two {text, language}'));
      utterances = s.utterances.map((u, k) => {
        const o = asObject(u, at(`utterances[${k}]`));
        return { text: str(o.text, at(`utterances[${k}].text`)), language: str(o.language ?? 'auto', at(`utterances[${k}].language`)) };
      });
    } else if (kind !== 'audio-file') {
      utterances = [{ text: str(s.text, at('text')), language: str(merged.language ?? 'auto', at('language')) }];
    }
    const audioFile = kind === 'audio-file' ? str(s.audioFile, at('audioFile')) : undefined;
    const avatarSource = merged.avatarSource === undefined ? undefined : str(merged.avatarSource, at('avatarSource'));
    const audioMaxMs = merged.audioMaxMs;
    if (audioMaxMs !== undefined && (typeof audioMaxMs !== 'number' || !(audioMaxMs >= 500))) throw new AvatarError('invalid_input', at('audioMaxMs must be a number of ms, at least 500'));
    const mouth = merged.mouth ?? 'renderer';
    if (mouth !== 'renderer' && mouth !== 'mesh') throw new AvatarError('invalid_input', at('mouth must be "renderer" or "mesh"'));
    const fps = merged.fps ?? 25;
    if (typeof fps !== 'number' || !Number.isInteger(fps) || fps < 1 || fps > 60) throw new AvatarError('invalid_input', at('fps must be a whole number from 1 to 60'));
    const tags = merged.tags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new AvatarError('invalid_input', at('tags must be a list of strings'));
    return {
      id, kind, utterances, fps, tags: tags as string[],
      title: typeof s.title === 'string' ? s.title : id,
      avatar: str(merged.avatar ?? 'default', at('avatar')),
      ...(merged.renderer !== undefined ? { renderer: str(merged.renderer, at('renderer')) } : {}),
      transport: str(merged.transport ?? 'file', at('transport')),
      ...(audioFile ? { audioFile: inSuite(audioFile, base) } : {}),
      ...(avatarSource ? { avatarSource: inSuite(avatarSource, base) } : {}),
      ...(merged.expectRefused === true ? { expectRefused: true } : {}),
      ...(merged.forcePrepare === true ? { forcePrepare: true } : {}),
      ...(typeof audioMaxMs === 'number' ? { audioMaxMs } : {}),
      ...(mouth === 'mesh' ? { mouth } : {}),
      ...(merged.ghost === true ? { ghost: true } : {}),
      checks: { ...suiteChecks, ...(s.checks === undefined ? {} : parseChecks(s.checks, at('checks'))) },
    } satisfies Scenario;
  });
  const gold = doc.gold === undefined ? undefined : str(doc.gold, where('gold'));
  return {
    name: typeof doc.name === 'string' ? doc.name : path,
    description: typeof doc.description === 'string' ? doc.description : '',
    path, scenarios,
    ...(gold ? { gold: isAbsolute(gold) ? gold : resolve(base, gold) } : {}),
  };
}

const CHECK_KEYS = ['maxAbsOffsetMs', 'minConfidence', 'maxStillnessRatio', 'minOpenAgreement', 'maxAvDurationDiffMs', 'maxAbsDriftMs', 'maxGhostP95', 'maxChromaGain'] as const;

/** A scenario path: kept as is in the media folder (resolved when run), else relative to the suite file. */
function inSuite(path: string, base: string): string {
  return path.startsWith(MEDIA_PREFIX) || isAbsolute(path) ? path : resolve(base, path);
}

/** A scenario path resolved against the media folder when it names one. */
export function resolveMediaPath(path: string, mediaDir: string): string {
  return path.startsWith(MEDIA_PREFIX) ? resolve(mediaDir, path.slice(MEDIA_PREFIX.length)) : path;
}

function parseChecks(raw: unknown, where: string): ScenarioChecks {
  const o = asObject(raw, where);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!(CHECK_KEYS as readonly string[]).includes(k)) throw new AvatarError('invalid_input', `${where}: unknown check "${k}" (known: ${CHECK_KEYS.join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new AvatarError('invalid_input', `${where}: ${k} must be a number`);
    out[k] = v;
  }
  return out;
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AvatarError('invalid_input', `${where} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || !v.trim()) throw new AvatarError('invalid_input', `${where} must be a non-empty string`);
  return v;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
