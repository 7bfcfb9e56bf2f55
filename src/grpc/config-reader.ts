import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AvatarError } from '../core/errors.js';

type Raw = Record<string, unknown>;

/**
 * Reads typed values out of a parsed YAML document by dotted path, collecting every
 * problem (with the path, what was expected and what was found) instead of stopping at
 * the first, so that a start-up lists all of them at once. Unknown keys are problems too.
 */
export class ConfigReader {
  readonly problems: string[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly root: Raw, private readonly baseDir: string) {}

  /** The object at `path` (an empty one when absent; a problem when not a mapping). */
  section(path: string): Raw {
    const v = this.raw(path);
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.problems.push(`${path} must be a mapping of keys, got ${JSON.stringify(v)}`);
      return {};
    }
    return v as Raw;
  }

  number(path: string, fallback: number, min: number, max: number, integer = true): number {
    const v = this.raw(path);
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      this.problems.push(`${path} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  }

  bool(path: string, fallback: boolean): boolean {
    const v = this.raw(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.problems.push(`${path} must be true or false, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  string(path: string, fallback: string): string {
    const v = this.raw(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' && typeof v !== 'number') {
      this.problems.push(`${path} must be a string, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return String(v);
  }

  oneOf<T extends string>(path: string, fallback: T, allowed: readonly T[]): T {
    const v = this.string(path, fallback).toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${path} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v as T;
  }

  /** A file path, resolved against the config file's folder; optional. */
  path(path: string): string | undefined {
    const v = this.raw(path);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      this.problems.push(`${path} must be a file path, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return resolve(this.baseDir, v);
  }

  /** A list of strings, given as a YAML list or a comma-separated string. */
  list(path: string, fallback: readonly string[]): string[] {
    const v = this.raw(path);
    if (v === undefined || v === null) return [...fallback];
    const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
    if (!items || !items.every((x) => typeof x === 'string')) {
      this.problems.push(`${path} must be a string or a list of strings, got ${JSON.stringify(v)}`);
      return [...fallback];
    }
    return items.map((s) => s.trim()).filter((s) => s !== '');
  }

  /** A list of file paths, each resolved against the config file's folder. */
  pathList(path: string): string[] {
    return this.list(path, []).map((p) => resolve(this.baseDir, p));
  }

  /** Marks keys of a section as known: any other key there is reported. */
  known(path: string, keys: readonly string[]): void {
    const section = path === '' ? this.root : this.section(path);
    for (const key of Object.keys(section)) {
      if (!keys.includes(key)) this.problems.push(`unknown key ${path ? `${path}.` : ''}${key} (known here: ${keys.join(', ')})`);
    }
  }

  /** Throws one AvatarError listing every problem, when there are any. */
  finish(what: string): void {
    if (this.problems.length > 0) {
      throw new AvatarError('invalid_input', `${what}: ${this.problems.length} problem(s):\n  - ${this.problems.join('\n  - ')}`);
    }
  }

  private raw(path: string): unknown {
    this.seen.add(path);
    let v: unknown = this.root;
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
      v = (v as Raw)[part];
    }
    return v;
  }
}

/** Reads and parses a YAML config file into a reader whose relative paths resolve beside the file. */
export async function readYamlConfig(file: string | undefined): Promise<ConfigReader> {
  if (!file) return new ConfigReader({}, process.cwd());
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new AvatarError('invalid_input', `cannot read config file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw new AvatarError('invalid_input', `config file ${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new AvatarError('invalid_input', `config file ${file} must be a YAML mapping of keys`);
  }
  return new ConfigReader((parsed ?? {}) as Raw, dirname(resolve(file)));
}

/** Parses seed 002's listen address forms: ":50051", "50051", 50051, "0.0.0.0:50051", "[::]:50051". */
export function parseListenAddress(reader: ConfigReader, path: string, fallbackPort: number): { host: string; port: number } {
  const raw = reader.string(path, `:${fallbackPort}`).trim();
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    reader.problems.push(`${path} must be a port such as ":${fallbackPort}", "${fallbackPort}" or "0.0.0.0:${fallbackPort}", got ${JSON.stringify(raw)}`);
    return { host: '0.0.0.0', port: fallbackPort };
  }
  return { host: m[1] ? m[1] : '0.0.0.0', port };
}
