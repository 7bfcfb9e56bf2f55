import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { openApiDocument } from '../openapi.js';

/** The package root (holding web/ and dist/web/), from dist/src/server/routes/. */
const ROOT = new URL('../../../../', import.meta.url);

const CONTENT_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', map: 'application/json', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };

/** GET /health, /ready, /metrics, /docs, the web page and its assets. */
export function registerSystemRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // Alive: answers while the process serves HTTP at all, draining included.
  app.get('/health', async () => {
    const avatars = ctx.catalog.list();
    const encoder = await ctx.encoder.then((e) => e.name, () => 'unavailable');
    return {
      status: encoder === 'unavailable' ? 'degraded' : 'ok',
      version: ctx.version,
      uptimeS: Math.round((Date.now() - ctx.startedAt) / 1000),
      avatars: { known: avatars.length, loaded: avatars.filter((a) => a.loaded).length, broken: avatars.filter((a) => a.status === 'broken').length },
      encoder,
      tts: ctx.tts.name,
      auth: ctx.auth.enabled,
      activeSessions: ctx.sessions,
      jobs: { running: ctx.jobs.active, queued: ctx.jobs.depth },
      draining: ctx.draining,
    };
  });

  // Ready: takes new work now (an encoder works, not shutting down, below the session limit).
  app.get('/ready', async (_request, reply) => {
    const encoder = await ctx.encoder.then(() => true, () => false);
    const reason = ctx.draining ? 'draining: the server is shutting down'
      : !encoder ? 'no working H.264 encoder'
      : ctx.sessions >= ctx.config.limits.maxRealtimeSessions ? `at the limit of ${ctx.config.limits.maxRealtimeSessions} realtime sessions` : undefined;
    if (reason) return reply.code(503).send({ error: 'not_ready', message: reason });
    return { ready: true, activeSessions: ctx.sessions, queueDepth: ctx.jobs.depth };
  });

  app.get('/metrics', async (_request, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.render()));

  app.get('/docs/openapi.json', async () => openApiDocument(ctx.version));
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage(ctx.version)));

  app.get('/', async (_request, reply) => {
    const html = await readFile(new URL('web/index.html', ROOT), 'utf8');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  });
  app.get('/assets/*', async (request, reply) => {
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

function docsPage(version: string): string {
  const doc = openApiDocument(version) as { paths: Record<string, Record<string, { summary?: string }>> };
  const rows = Object.entries(doc.paths)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary ?? '')}</td></tr>`))
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>realtime-avatar API</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:60em}td{padding:.2em .8em;border-bottom:1px solid #ddd}</style></head>
<body><h1>realtime-avatar API ${escapeHtml(version)}</h1>
<p>OpenAPI 3 document: <a href="/docs/openapi.json">/docs/openapi.json</a>. Realtime protocol: WebSocket <code>/api/v1/realtime</code> (docs/realtime-protocol.md).</p>
<p>Authentication (when the server has API keys): <code>Authorization: Bearer KEY</code> or <code>x-api-key: KEY</code>. Errors are JSON <code>{error, message}</code>.</p>
<table>${rows}</table></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
