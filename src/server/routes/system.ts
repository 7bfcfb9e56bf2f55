import { readFile } from 'node:fs/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { realtimeProtocolSchema } from '../realtime-protocol-schema.js';
import { routeSchemas } from '../route-schemas.js';

/** The package root (holding web/ and dist/web/), from dist/src/server/routes/. */
const ROOT = new URL('../../../../', import.meta.url);

const CONTENT_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', map: 'application/json', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };

/** GET /health, /ready, /metrics, /docs/openapi.json, the web page and its assets (/docs itself: openapi.ts). */
export function registerSystemRoutes(untyped: FastifyInstance, ctx: ServerContext): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const schemas = routeSchemas(ctx.config.limits);
  // Alive: answers while the process serves HTTP at all, draining included.
  app.get('/health', { schema: schemas.health }, async () => {
    const avatars = ctx.catalog.list();
    const encoder = await ctx.encoder.then((e) => e.name, () => 'unavailable');
    const counts = await ctx.jobs.counts().catch(() => undefined);
    return {
      status: encoder === 'unavailable' || !counts ? 'degraded' as const : 'ok' as const,
      version: ctx.version,
      uptimeS: Math.round((Date.now() - ctx.startedAt) / 1000),
      avatars: { known: avatars.length, loaded: avatars.filter((a) => a.loaded).length, broken: avatars.filter((a) => a.status === 'broken').length },
      encoder,
      tts: ctx.tts.name,
      auth: ctx.auth.enabled,
      activeSessions: ctx.sessions,
      jobs: { running: counts?.active ?? 0, queued: counts?.waiting ?? 0 },
      queue: ctx.jobs.backend,
      draining: ctx.draining,
    };
  });

  // Ready: takes new work now (an encoder works, not shutting down, below the session limit).
  app.get('/ready', { schema: schemas.ready }, async (_request, reply) => {
    const encoder = await ctx.encoder.then(() => true, () => false);
    const reason = ctx.draining ? 'draining: the server is shutting down'
      : !encoder ? 'no working H.264 encoder'
      : !ctx.jobs.isReady() ? 'the job queue cannot be reached'
      : ctx.sessions >= ctx.config.limits.maxRealtimeSessions ? `at the limit of ${ctx.config.limits.maxRealtimeSessions} realtime sessions` : undefined;
    if (reason) return reply.code(503).send({ error: 'not_ready', message: reason });
    const counts = await ctx.jobs.counts().catch(() => undefined);
    if (!counts) return reply.code(503).send({ error: 'not_ready', message: 'the job queue cannot be reached' });
    return { ready: true as const, activeSessions: ctx.sessions, queueDepth: counts.waiting };
  });

  app.get('/metrics', { schema: schemas.metrics }, async (_request, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.render()));

  // The generated document under the name earlier versions used (/docs/json is the UI's own).
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => untyped.swagger());
  const protocol = realtimeProtocolSchema();
  app.get('/docs/realtime-protocol.schema.json', { schema: schemas.protocol }, async () => protocol);

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const html = await readFile(new URL('web/index.html', ROOT), 'utf8');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  });
  // The client SDK (realtime-avatar/client) as browser modules; any page may import it.
  app.get('/client/*', { schema: { hide: true } }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    if (!/^[a-z-]+\.js(\.map)?$/.test(name)) return reply.code(404).send({ error: 'not_found', message: 'no such client file' });
    try {
      const body = await readFile(new URL(`dist/client/${name}`, ROOT));
      return reply.type(CONTENT_TYPES[name.endsWith('.map') ? 'map' : 'js']!).header('access-control-allow-origin', '*').header('cache-control', 'no-cache').send(body);
    } catch {
      return reply.code(404).send({ error: 'not_found', message: `no client file ${name} (was it built? npm run build)` });
    }
  });
  app.get('/assets/*', { schema: { hide: true } }, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    // Plain relative names only: no '..', no absolute paths, no odd characters.
    if (!/^(?:[a-z0-9_-]+\/)*[a-z0-9_.-]+\.(js|map|css)$/i.test(path) || path.includes('..')) {
      return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    }
    const ext = path.split('.').pop()!;
    const base = ext === 'css' ? new URL('web/', ROOT) : new URL('dist/web/', ROOT);
    try {
      const body = await readFile(new URL(path, base));
      return reply.type(CONTENT_TYPES[ext]!).header('cache-control', 'no-cache').send(body);
    } catch {
      return reply.code(404).send({ error: 'not_found', message: `no asset ${path} (was the web client built? npm run build)` });
    }
  });
}
