import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { ServerEvent } from '../src/client/protocol.js';
import { ClientMessageSchema, ServerEventSchema } from '../src/server/realtime-protocol-schema.js';
import { call, connectRealtime, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ limits: { maxTextChars: 300 } });
});
after(() => s.close());

type Operation = { parameters?: { in: string; name: string; required?: boolean }[]; requestBody?: { content: Record<string, { schema: Record<string, any> }> }; responses: Record<string, unknown> };

/** Routes that are not part of the API: the web page, its assets, the client SDK's files, the docs UI and the document itself. */
const NOT_API = /^\/$|^\/assets\/|^\/client\/|^\/docs($|\/)(?!realtime-protocol)/;

describe('OpenAPI document generated from the route schemas', () => {
  it('describes every registered route with its body, query, path parameters and responses', async () => {
    const { status, body: doc } = await call(`${s.url}/docs/json`);
    assert.equal(status, 200);
    assert.equal(doc.openapi, '3.0.3');
    assert.equal((await call(`${s.url}/docs/openapi.json`)).body.openapi, '3.0.3', 'the earlier address still answers');
    const routes = s.server.routes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    const api = routes.filter((r) => !NOT_API.test(r.url));
    assert.ok(api.length >= 13, `${api.length} API routes`);
    for (const route of routes) {
      if (NOT_API.test(route.url)) continue;
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()] as Operation | undefined;
      const name = `${route.method} ${route.url}`;
      assert.ok(op, `${name} is in the document`);
      assert.ok(route.schema, `${name} has a schema`);
      assert.ok(!route.schema.hide, `${name} is not hidden`);
      const schema = route.schema as Record<string, any>;
      for (const code of Object.keys(schema.response ?? {})) assert.ok(op.responses[code], `${name} documents its ${code} response`);
      assert.ok(Object.keys(op.responses).length > 0, `${name} has responses`);
      for (const [part, where] of [['querystring', 'query'], ['params', 'path']] as const) {
        for (const field of Object.keys(schema[part]?.properties ?? {})) {
          assert.ok(op.parameters?.some((p) => p.in === where && p.name === field), `${name} documents ${where} parameter ${field}`);
        }
      }
      const bodyTypes = Object.keys(schema.body?.content ?? {});
      if (bodyTypes.length && !bodyTypes.includes('application/json')) {
        for (const type of bodyTypes) assert.ok(op.requestBody?.content[type], `${name} documents its ${type} body`);
      } else if (schema.body) {
        const json = op.requestBody?.content['application/json']?.schema;
        assert.ok(json, `${name} documents its JSON body`);
        assert.deepEqual(Object.keys(json.properties ?? {}).sort(), Object.keys((schema.body.content?.['application/json']?.schema ?? schema.body).properties).sort(), `${name} body fields`);
      }
    }
    // What the hand-written document missed: language/lang and api_key, response schemas, the multipart form.
    const generate = doc.paths['/api/v1/generate'].post as Operation;
    const fields = generate.requestBody!.content['application/json']!.schema.properties;
    for (const field of ['text', 'language', 'lang', 'avatar', 'voice', 'fps', 'size', 'async', 'api_key']) assert.ok(fields[field], field);
    assert.equal(fields.text.maxLength, 300, 'limits come from the configuration');
    assert.ok(generate.requestBody!.content['multipart/form-data']!.schema.properties.file);
    assert.ok(doc.components.schemas.ErrorBody);
    assert.ok(doc.paths['/api/v1/realtime'].get, 'the WebSocket route is documented');
  });

  it('serves a try-it page whose assets come from the server itself', async () => {
    const page = await call(`${s.url}/docs/static/index.html`);
    assert.equal(page.status, 200);
    assert.match(page.body, /swagger-ui/);
    const urls = [...String(page.body).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(urls.length > 0);
    for (const url of urls) assert.doesNotMatch(url, /^(https?:)?\/\//, `${url} is local`);
    const init = await call(`${s.url}/docs/static/swagger-initializer.js`);
    assert.match(init.body, /validatorUrl: null/, 'no remote validator');
    assert.doesNotMatch(init.body, /url: ["'`]https?:/, 'the document comes from this server');
  });
});

describe('validation by the schemas', () => {
  it('refuses bad requests with the friendly messages, before the handler runs', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['POST /api/v1/generate', { text: 123 }, /^"text" is required and must be a string$/],
      ['POST /api/v1/generate', { text: 'hi', fps: 'fast' }, /^"fps" must be a whole number from 1 to 60, got "fast"$/],
      ['POST /api/v1/generate', { text: 'hi', colour: 'red' }, /^unknown field: colour$/],
      ['POST /api/v1/generate', { text: 'hi', async: 'maybe' }, /^"async" must be true or false$/],
      ['POST /api/v1/generate/stream', { text: 'hi', voice: 'a b' }, /^"voice" must be a voice id/],
      ['GET /api/v1/generate/stream?text=hi&fps=0', undefined, /^"fps" must be a whole number from 1 to 60, got 0$/],
      ['GET /api/v1/generate/stream?fps=10', undefined, /^"text" is required/],
      ['GET /api/v1/generate/stream?text=hi&colour=red', undefined, /^unknown field: colour$/],
    ];
    for (const [route, body, message] of cases) {
      const [method, path] = route.split(' ') as [string, string];
      const r = await call(`${s.url}${path}`, { method, ...(body !== undefined ? { body } : {}) });
      assert.equal(r.status, 400, route);
      assert.equal(r.body.error, 'invalid_input', route);
      assert.match(r.body.message, message, `${route} ${JSON.stringify(body)}: ${r.body.message}`);
    }
  });
});

describe('realtime protocol schema', () => {
  it('is served, and the messages of a live session match it', async () => {
    const served = await call(`${s.url}/docs/realtime-protocol.schema.json`);
    assert.equal(served.status, 200);
    assert.ok(served.body.$defs.RealtimeClientMessage.anyOf.length >= 6);
    const events: ServerEvent[] = [];
    const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime`, { onEvent: (e) => events.push(e) });
    for (const message of [{ type: 'speak', text: 'Hi.', id: 'u1' }, { type: 'interrupt' }, { type: 'audio.start', sampleRate: 16000, echo: false }, { type: 'ping', t: 5 }]) {
      assert.ok(Value.Check(ClientMessageSchema, message), JSON.stringify(message));
    }
    client.speak('Hi.', { id: 'u1' });
    await client.waitFor('speech.ended', undefined, 20000);
    client.close();
    assert.ok(events.length >= 3);
    for (const event of [client.session!, ...events]) assert.ok(Value.Check(ServerEventSchema, event), JSON.stringify(event));
    assert.ok(!Value.Check(ClientMessageSchema, { type: 'speak' }), 'speak without text is refused');
    assert.ok(!Value.Check(ServerEventSchema, { type: 'speech.ended', id: 'x', ptsMs: 0, reason: 'bored' }));
  });
});
