/**
 * The daemon's logger: pino's JSON lines, one per event, with the request id (`reqId`) on every
 * line about a request. Credentials never reach the log: Fastify's request serializer logs no
 * headers, URLs are logged without query values (a client may put a token there), and the
 * redact paths below guard what a later change could add.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Query parameters whose values are harmless and useful in a log line. */
const LOGGED_QUERY = new Set(['since', 'epoch', 'countersMs', 'types', 'timeoutMs']);

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const shown = [...params.entries()].map(
    ([k, v]) => `${encodeURIComponent(k)}=${LOGGED_QUERY.has(k) ? encodeURIComponent(v) : '[redacted]'}`,
  );
  return `${url.slice(0, q)}?${shown.join('&')}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      name: 'vpnsvc',
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
