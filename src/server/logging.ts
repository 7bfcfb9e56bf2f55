import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyServerOptions } from 'fastify';

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `json`: one JSON object a line; `pretty`: short coloured lines for a person; `auto`: pretty in a terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** Where log lines go (stdout by default). */
export interface LogSink {
  write(line: string): unknown;
  readonly isTTY?: boolean;
}

/** Routes polled by probes and scrapers: no access-log lines for them at `info`. */
const QUIET_ROUTES = new Set(['/health', '/ready', '/metrics']);

/** A client may name its request (`x-request-id`): kept when it is a plain token, else a fresh UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Fastify's logger options: pino JSON lines with the request id (`reqId`), the level from
 * the configuration, pretty lines when `format` asks (or `auto` and the sink is a terminal).
 */
export function loggerOptions(level: LogLevel, format: LogFormat, sink: LogSink = process.stdout): Pick<FastifyServerOptions, 'logger' | 'genReqId' | 'logController'> {
  const pretty = format === 'pretty' || (format === 'auto' && sink.isTTY === true);
  return {
    logger: {
      level,
      stream: pretty ? prettySink(sink) : sink,
      serializers: {
        // No headers (credentials) and no query (it may carry an api_key): method, path and address.
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: req.url.split('?')[0], ip: req.ip }),
      },
    },
    genReqId: requestIdOf,
    logController: new LogController({
      disableRequestLogging: (req: { url?: string }) => QUIET_ROUTES.has((req.url ?? '').split('?')[0]!),
    }),
  };
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'v']);

/** Formats pino JSON lines as `HH:MM:SS.mmm LEVEL [reqId] message key=value`; lines that are not JSON pass through. */
export function prettySink(sink: LogSink): LogSink {
  const colour = sink.isTTY === true;
  const paint = (code: string, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    write(chunk: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(chunk) as Record<string, unknown>;
      } catch {
        return sink.write(chunk);
      }
      const level = Number(entry.level);
      const time = new Date(Number(entry.time) || Date.now()).toISOString().slice(11, 23);
      const rest = Object.entries(entry).filter(([k]) => !OMITTED.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      const id = entry.reqId ? ` ${paint('90', `[${String(entry.reqId)}]`)}` : '';
      return sink.write(`${paint('90', time)} ${paint(LEVEL_COLOURS[level] ?? '0', (LEVEL_NAMES[level] ?? String(level)).padEnd(5))}${id} ${String(entry.msg ?? '')}${rest.length ? ` ${paint('90', rest.join(' '))}` : ''}\n`);
    },
  };
}
