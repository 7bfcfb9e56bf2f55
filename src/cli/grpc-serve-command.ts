import { parseArgs } from 'node:util';
import { AvatarError } from '../core/errors.js';
import { loadCompositingConfig } from '../grpc/compositing-config.js';
import { loadInferenceConfig } from '../grpc/inference-config.js';

/** The processes `avatar serve --role` can run. */
export const SERVE_ROLES = ['all', 'inference', 'compositing'] as const;
export type ServeRole = (typeof SERVE_ROLES)[number];

/** Takes `--role X` (or `--role=X`) out of the arguments; `all` when absent. */
export function takeRole(args: string[]): ServeRole {
  let role: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--role') {
      role = args[i + 1];
      if (!role || role.startsWith('-')) throw new AvatarError('invalid_input', `--role needs one of ${SERVE_ROLES.join(', ')}`);
      args.splice(i, 2);
      break;
    }
    if (a.startsWith('--role=')) {
      role = a.slice('--role='.length);
      args.splice(i, 1);
      break;
    }
  }
  if (role === undefined) return 'all';
  if (!(SERVE_ROLES as readonly string[]).includes(role)) throw new AvatarError('invalid_input', `--role must be one of ${SERVE_ROLES.join(', ')}, got "${role}"`);
  return role as ServeRole;
}

/**
 * `avatar serve --role inference|compositing [--config FILE] [--port N] [--avatars-dir DIR]`:
 * one of seed 002's gRPC services, configured by its YAML file (seed 002's keys), until
 * SIGINT/SIGTERM. `--avatars-dir` adds the avatar folders there as models.
 */
export async function runGrpcRole(role: 'inference' | 'compositing', argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, 'avatars-dir': { type: 'string' } },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new AvatarError('invalid_input', `--port must be 0 to 65535, got "${values.port}"`);
  const dirs = values['avatars-dir'] ? [values['avatars-dir']] : [];
  let service: { banner: string; close(): Promise<void> };
  try {
    if (role === 'inference') {
      const { startInferenceService } = await import('../grpc/inference-service.js');
      const config = await loadInferenceConfig(values.config);
      service = await startInferenceService({ ...config, ...(port !== undefined ? { port } : {}), modelsDirs: [...config.modelsDirs, ...dirs] });
    } else {
      const { startCompositingService } = await import('../grpc/compositing-service.js');
      const config = await loadCompositingConfig(values.config);
      service = await startCompositingService({ ...config, ...(port !== undefined ? { port } : {}), modelsDirs: [...config.modelsDirs, ...dirs] });
    }
  } catch (e) {
    if (e instanceof AvatarError) throw e;
    throw new AvatarError('invalid_input', `${role} service cannot start: ${(e as Error).message}`);
  }
  process.stdout.write(service.banner);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stdout.write(`avatar serve --role ${role}: ${signal}: stopping\n`);
  await service.close();
  return 0;
}
