import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { LimitsConfig } from './config.js';
import { audioUploadForm, SHARED_SCHEMAS } from './route-schemas.js';

/** Route config that adds a multipart form to the document (multipart bodies are checked by their handler, not by Ajv). */
export interface MultipartDocConfig {
  readonly multipartForm?: boolean;
}

/** A route as registered: what the document must describe unless it is hidden. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: FastifySchema & { hide?: boolean } | undefined;
}

/**
 * Generates the OpenAPI 3 document from the route schemas (@fastify/swagger) and serves it
 * at /docs/json (also /docs/openapi.json) with a try-it page at /docs (@fastify/swagger-ui,
 * its assets from the package: nothing is fetched from elsewhere). Call before adding routes.
 */
export async function registerOpenApi(app: FastifyInstance, version: string, limits: LimitsConfig): Promise<RegisteredRoute[]> {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  const routes: RegisteredRoute[] = [];
  // @fastify/websocket hides its routes from the document; the realtime route is part of the API.
  app.addHook('onRoute', (route) => {
    if (route.websocket && route.schema) route.schema.hide = false;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, schema: route.schema });
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'realtime-avatar', version, description: 'Lip-synced talking-head video from text or audio, as files, progressive streams and realtime sessions. Errors are JSON {error, message}.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
      security: [{ bearer: [] }, { apiKey: [] }],
      tags: [{ name: 'generate' }, { name: 'realtime' }, { name: 'avatars' }, { name: 'system' }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => {
      if (!(route.config as MultipartDocConfig | undefined)?.multipartForm || !schema?.body) return { schema, url };
      const body = schema.body as { content?: Record<string, unknown> };
      const documented: FastifySchema = { ...schema, body: { ...body, content: { ...body.content, 'multipart/form-data': { schema: audioUploadForm(limits) } } } };
      return { schema: documented, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', validatorUrl: false, uiConfig: { docExpansion: 'list', deepLinking: true } });
  return routes;
}
