import { Ajv, type Options } from 'ajv';
import type { FastifySchema, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { SchemaErrorDataVar } from 'fastify/types/schema.js';

/** An Ajv error with `verbose: true`: the schema that failed and the value that failed it. */
type VerboseError = FastifySchemaValidationError & { parentSchema?: Record<string, unknown>; data?: unknown };

/** Ajv options the route schemas need: unknown fields refused (not silently dropped), failing schemas reported, the message keyword allowed. */
const AJV_OPTIONS: Options = { removeAdditional: false, useDefaults: true, verbose: true, keywords: ['x-error'], allErrors: false, addUsedSchema: false, allowUnionTypes: true };

/**
 * Fastify's validator compiler with two Ajvs: query strings, params and headers are text, so
 * their values are coerced ("25" is 25); JSON bodies are not (`{"text": 123}` is refused,
 * not spoken as "123").
 */
export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const coercing = new Ajv({ ...AJV_OPTIONS, coerceTypes: 'array' });
  const strict = new Ajv({ ...AJV_OPTIONS, coerceTypes: false });
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}

/**
 * Turns Ajv's errors into one message for a person: the `x-error` text of the schema that
 * failed (see route-schemas.ts), else Ajv's own message prefixed by where it failed.
 * Fastify answers 400 with it; the error handler gives it the `invalid_input` kind.
 */
export function friendlyValidationError(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  // Ajv lists a union's branch errors before the union's own: the last error with a message is the most general.
  for (const error of [...(errors as VerboseError[])].reverse()) {
    const text = messageFor(error);
    if (text) return new Error(text);
  }
  const first = errors[0];
  return new Error(first ? `${dataVar}${first.instancePath} ${first.message ?? 'is not valid'}` : `${dataVar} is not valid`);
}

function messageFor(error: VerboseError): string | undefined {
  const parent = error.parentSchema;
  if (!parent) return undefined;
  const property = (name: unknown) => (parent.properties as Record<string, Record<string, unknown>> | undefined)?.[String(name)];
  if (error.keyword === 'required') {
    return pick(property(error.params.missingProperty)?.['x-error'], 'required', undefined) ?? `"${String(error.params.missingProperty)}" is required`;
  }
  if (error.keyword === 'additionalProperties') return pick(parent['x-error'], 'additionalProperties', error.params.additionalProperty, true);
  return pick(parent['x-error'], error.keyword, error.data);
}

/** The message for `keyword` from an `x-error` (a string, or one per keyword), with `{value}` and `{length}` filled in. */
function pick(spec: unknown, keyword: string, value: unknown, raw = false): string | undefined {
  if (spec === undefined) return undefined;
  const text = typeof spec === 'string' ? spec : (spec as Record<string, string>)[keyword] ?? (spec as Record<string, string>).type;
  if (text === undefined) return undefined;
  const shown = raw ? String(value) : JSON.stringify(value) ?? 'nothing';
  const length = typeof value === 'string' ? [...value].length : Array.isArray(value) ? value.length : 0;
  return text.replace('{value}', shown.length > 80 ? `${shown.slice(0, 77)}...` : shown).replace('{length}', String(length));
}
