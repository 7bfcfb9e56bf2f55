import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { parse as parseYaml } from 'yaml';
import { parseManifests, REPO_ROOT, type ManifestDoc } from './manifest-schemas.js';

const exec = promisify(execFile);

/** The final stage of the Dockerfile, read with a real Dockerfile parser. */
export interface ImageFacts {
  /** The base image of the final stage, ARG defaults substituted. */
  readonly base: string;
  readonly runs: readonly string[];
  readonly buildRuns: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  readonly exposed: readonly string[];
  readonly volumes: readonly string[];
  /** The HEALTHCHECK's command (exec form). */
  readonly healthcheck: readonly string[] | undefined;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Sources of COPY instructions that read the build context. */
  readonly contextCopies: readonly string[];
}

/** Parses the repository's Dockerfile. */
export function readDockerfile(): ImageFacts {
  const file = DockerfileParser.parse(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const args = Object.fromEntries(file.getInitialARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']));
  const stages = file.getFROMs();
  const finalStart = stages[stages.length - 1]!.getRange().start.line;
  const instructions = file.getInstructions();
  const final = instructions.filter((i) => i.getRange().start.line >= finalStart);
  const earlier = instructions.filter((i) => i.getRange().start.line < finalStart);
  const of = (list: Instruction[], keyword: string) => list.filter((i) => i.getKeyword() === keyword);
  const content = (i: Instruction) => i.getArgumentsContent() ?? '';
  const env: Record<string, string> = {};
  for (const i of of(final, 'ENV')) for (const [, name, value] of content(i).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[name!] = value!;
  const jsonForm = (text: string): string[] => JSON.parse(text.trim()) as string[];
  const healthcheck = of(final, 'HEALTHCHECK').map((i) => content(i)).map((text) => text.slice(text.indexOf('CMD') + 3))[0];
  const base = (stages[stages.length - 1]!.getImage() ?? '').replace(/^\$\{?(\w+)\}?$/, (_, name: string) => args[name] ?? name);
  return {
    base,
    runs: of(final, 'RUN').map(content),
    buildRuns: of(earlier, 'RUN').map(content),
    env,
    user: of(final, 'USER').map(content).pop(),
    exposed: of(final, 'EXPOSE').flatMap((i) => i.getArguments().map((a) => a.getValue())),
    volumes: of(final, 'VOLUME').flatMap((i) => jsonForm(content(i))),
    healthcheck: healthcheck === undefined ? undefined : jsonForm(healthcheck),
    entrypoint: of(final, 'ENTRYPOINT').map((i) => jsonForm(content(i))).pop() ?? [],
    cmd: of(final, 'CMD').map((i) => jsonForm(content(i))).pop() ?? [],
    contextCopies: file.getCOPYs().filter((c) => c.getFromFlag() === null).flatMap((c) => c.getArguments().slice(0, -1).map((a) => a.getValue())),
  };
}

/** Environment variables the code reads (`env.NAME`, `env['NAME']`, or a name in a table of `['NAME', ...]` pairs). */
export function variablesTheCodeReads(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/(?:env\.|env\[['"]|\[['"])([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(REPO_ROOT, 'src'));
  return names;
}

/** A kustomization's resources and patch files. */
export interface Kustomization {
  readonly dir: string;
  readonly namespace: string | undefined;
  readonly resources: readonly string[];
  readonly patches: readonly string[];
}

/** Reads `dir/kustomization.yaml` (dir relative to the repository root). */
export function readKustomization(dir: string): Kustomization {
  const raw = parseYaml(readFileSync(join(REPO_ROOT, dir, 'kustomization.yaml'), 'utf8')) as { namespace?: string; resources?: string[]; patches?: { path: string }[] };
  return { dir, namespace: raw.namespace, resources: raw.resources ?? [], patches: (raw.patches ?? []).map((p) => p.path) };
}

/** The objects of one manifest file (path relative to the repository root). */
export function readManifestFile(path: string): ManifestDoc[] {
  return parseManifests(readFileSync(join(REPO_ROOT, path), 'utf8'), path);
}

/** `kubectl kustomize` when this machine's kubectl has kustomize 4 or newer (the `patches` field); else the reason it cannot run. */
export async function kustomizeTool(): Promise<{ render(dir: string): Promise<ManifestDoc[]> } | { missing: string }> {
  let version: string;
  try {
    const { stdout } = await exec('kubectl', ['version', '--client', '-o', 'json'], { timeout: 20_000 });
    version = (JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  } catch (e) {
    return { missing: `kubectl cannot run here (${(e as Error).message.split('\n')[0]})` };
  }
  const major = Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
  if (major < 4) return { missing: `kubectl's kustomize is ${version || 'absent'}; the kustomizations need kustomize 4 or newer` };
  return {
    async render(dir: string) {
      const { stdout } = await exec('kubectl', ['kustomize', join(REPO_ROOT, dir)], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
      return parseManifests(stdout, `kustomize ${dir}`);
    },
  };
}

/** The Compose command here: the docker compose plugin, else docker-compose (Debian's package). */
export async function composeCommand(): Promise<string[] | undefined> {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    try {
      await exec(command[0]!, [...command.slice(1), 'version'], { timeout: 20_000 });
      return command;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Runs `compose -f compose.yaml config` with only `env` (and PATH/HOME) in its environment. */
export async function composeConfig(command: readonly string[], env: Record<string, string>): Promise<{ ok: true; config: Record<string, any> } | { ok: false; stderr: string }> {
  try {
    const { stdout } = await exec(command[0]!, [...command.slice(1), '-f', join(REPO_ROOT, 'compose.yaml'), 'config'], {
      timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    });
    return { ok: true, config: parseYaml(stdout) as Record<string, any> };
  } catch (e) {
    return { ok: false, stderr: String((e as { stderr?: string }).stderr ?? (e as Error).message) };
  }
}
