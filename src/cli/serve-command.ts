import { parseArgs } from 'node:util';
import { mkdir } from 'node:fs/promises';
import { BuiltinAvatarCatalog, type AvatarCatalog } from '../avatars/catalog.js';
import { FolderAvatarPreparer } from '../avatars/folder-preparer.js';
import { AvatarRegistry } from '../avatars/registry.js';
import { AvatarError } from '../core/errors.js';
import { avatarsDir } from './avatar-dirs.js';
import { runGrpcRole, takeRole } from './grpc-serve-command.js';
import { locateFfmpeg, type FfmpegInfo } from '../encode/ffmpeg.js';
import { createAvatarServer } from '../server/app.js';
import { DirectProcessLauncher, useProcessLauncher } from '../encode/process-launcher.js';
import { SpawnerProcessLauncher } from '../encode/spawner-launcher.js';
import type { AvatarPreparer } from '../avatars/avatar-preparer.js';
import { loadServerConfig, type ServerConfig } from '../server/config.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Where serving gets its avatars and its avatar preparer; replaced by the avatar registry when present. */
export interface ServeDependencies {
  readonly catalog: AvatarCatalog;
  readonly preparer?: AvatarPreparer;
}

/**
 * `avatar serve` (role `all`: the HTTP server, one process) over the prepared avatars of `--avatars-dir` (else `$AVATAR_HOME`, else
 * `./avatars`), with uploads prepared into that folder.
 */
export async function runServeWithAvatars(argv: readonly string[]): Promise<number> {
  const args = [...argv];
  const role = takeRole(args);
  if (role !== 'all') return runGrpcRole(role, args);
  const at = args.indexOf('--avatars-dir');
  const dirOption = at >= 0 ? args[at + 1] : undefined;
  if (at >= 0) {
    if (!dirOption || dirOption.startsWith('-')) throw new AvatarError('invalid_input', '--avatars-dir needs a folder');
    args.splice(at, 2);
  }
  const dir = avatarsDir(dirOption);
  await mkdir(dir, { recursive: true }).catch((e: Error) => {
    throw new AvatarError('output_unwritable', `cannot use avatars folder ${dir}: ${e.message}`);
  });
  const registry = await AvatarRegistry.open({ dirs: [dir] });
  try {
    return await runServe(args, { catalog: registry, preparer: new FolderAvatarPreparer(dir, registry) });
  } finally {
    registry.close();
  }
}

/** `avatar serve [--host H] [--port N] [--config FILE]`: runs until SIGINT/SIGTERM, then drains (see AvatarServer.drain) and exits. */
export async function runServe(argv: readonly string[], deps: ServeDependencies = { catalog: new BuiltinAvatarCatalog() }): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      config: { type: 'string', short: 'c' },
    },
  });
  let config = await loadServerConfig({
    ...(values.config ? { file: values.config } : {}),
    env: process.env,
    flags: { ...(values.host !== undefined ? { host: values.host } : {}), ...(values.port !== undefined ? { port: values.port } : {}) },
  });
  const notes: string[] = [];
  if (config.apiKeys.length === 0 && !LOOPBACK.has(config.host)) {
    notes.push(`no API keys are configured, so the server listens on 127.0.0.1 only (not ${config.host}); add apiKeys to serve other machines`);
    config = { ...config, host: '127.0.0.1' };
  }
  if (!config.signingSecret && !config.redis) notes.push('no signingSecret configured: download links stop working when the server restarts');
  if (config.encoderSpawn === 'spawner') useProcessLauncher(new SpawnerProcessLauncher());
  const server = await createAvatarServer({ config, catalog: deps.catalog, ...(deps.preparer ? { preparer: deps.preparer } : {}) });
  const encoder = await server.context.encoder; // fails start-up with a clear message when no encoder works
  await server.warmUp();
  const { url } = await server.listen();
  const ffmpeg = await locateFfmpeg();
  const bundledNote = bundledFfmpegNote(ffmpeg);
  if (bundledNote) notes.push(bundledNote);
  process.stdout.write(banner(config, url, `${encoder.name}, ffmpeg ${ffmpeg.source === 'path' ? 'from PATH' : ffmpeg.source === 'env' ? 'from AVATAR_FFMPEG' : 'bundled with the npm package'}`, server.context.catalog, server.context.tts.name, !!deps.preparer, notes));
  const signal = await nextSignal();
  process.stdout.write(`avatar serve: ${signal}: taking no new work; waiting up to ${(config.shutdownGraceMs / 1000).toFixed(0)} s for sessions and jobs to finish (send it again to stop now)\n`);
  const outcome = await Promise.race([server.drain(), nextSignal().then(() => undefined)]);
  process.stdout.write(`avatar serve: stopping${outcome?.drained === false ? ' (grace period over: open sessions and jobs are ended)' : outcome ? '' : ' now'}\n`);
  await server.close();
  useProcessLauncher(new DirectProcessLauncher());
  return 0;
}

/**
 * The npm-bundled ffmpeg (@ffmpeg-installer) is a 2018 build (4.x) with years of unfixed
 * demuxer bugs: fine for encoding our own frames, not for decoding strangers' files.
 */
export function bundledFfmpegNote(ffmpeg: FfmpegInfo): string | undefined {
  if (ffmpeg.source !== 'bundled') return undefined;
  const version = /version (\S+)/.exec(ffmpeg.version)?.[1] ?? 'unknown';
  return `ffmpeg is the build bundled with the npm package (version ${version}, from 2018): install a current system ffmpeg (e.g. apt-get install ffmpeg) or set AVATAR_FFMPEG before accepting untrusted uploads`;
}

/** Resolves on the next SIGINT or SIGTERM, with its name. */
export function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (name: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(name);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function banner(config: ServerConfig, url: string, encoder: string, catalog: AvatarCatalog, tts: string, preparer: boolean, notes: string[]): string {
  const avatars = catalog.list();
  const lines = [
    `avatar serve: listening on ${url}`,
    `  web page      ${url}/   API docs ${url}/docs`,
    `  avatars       ${avatars.length} (${avatars.slice(0, 8).map((a) => a.id + (a.status === 'broken' ? ' [broken]' : '')).join(', ')}${avatars.length > 8 ? ', ...' : ''})`,
    `  TTS           ${tts}`,
    `  encoder       ${encoder} (MP4, stream); JPEG for realtime at ${config.realtime.size}px ${config.realtime.fps} fps`,
    `  auth          ${config.apiKeys.length ? `on: ${config.apiKeys.length} API key(s), ${new Set(config.apiKeys.map((k) => k.tenant)).size} tenant(s)` : 'off (no API keys; local use only)'}`,
    `  limits        ${config.limits.generationsPerMinute} generations/min per key, text <= ${config.limits.maxTextChars} chars, ${config.limits.maxRealtimeSessions} realtime sessions`,
    `  jobs          concurrency ${config.jobConcurrency}, outputs kept ${(config.retentionMs / 86400000).toFixed(1)} days in ${config.dataDir}`,
    `  avatar upload ${preparer ? 'on' : 'off (no avatar preparer configured)'}`,
    ...notes.map((n) => `  note: ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}
