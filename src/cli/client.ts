/**
 * The CLI's HTTP client: node:http(s) rather than fetch, so one code path serves TCP, TLS with
 * a private CA, and the daemon's unix socket. With the daemon's own environment (VPNSVC_LISTEN,
 * VPNSVC_STATE_DIR) it finds the daemon and its admin token without any flag.
 */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { DEFAULT_LISTEN, DEFAULT_STATE_DIR } from '../config/defaults.js';

export const DEFAULT_URL = `http://${DEFAULT_LISTEN}`;
export { DEFAULT_STATE_DIR };

export interface Endpoint {
  /** Base URL; for a unix socket, http://localhost with socketPath set. */
  base: URL;
  socketPath?: string;
  ca?: Buffer;
  token?: string;
  /** Where the token came from, for error messages (never the token itself). */
  tokenSource: string;
  /** With no token: the file looked for last and why it gave none, for the 401 message. */
  tokenLookedFor?: string;
}

/** The service answered with its error body. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {}

export interface EndpointFlags {
  url?: string;
  token?: string;
  tokenFile?: string;
  ca?: string;
}

/** A file the CLI itself needed (a token, a CA, a packet) could not be read. */
export class LocalFileError extends Error {}

/** Reads a local file or throws a one-line LocalFileError naming it and the errno. */
export function readLocalFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new LocalFileError(`cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function readToken(path: string, what: string): string {
  return readLocalFile(path, what).toString('utf8').trim();
}

/** Flags first, then the environment, then the daemon's own state directory. */
export function resolveEndpoint(flags: EndpointFlags, env: NodeJS.ProcessEnv = process.env): Endpoint {
  let raw = flags.url ?? env.VPNSVC_URL;
  if (!raw && env.VPNSVC_LISTEN) {
    raw = env.VPNSVC_LISTEN.startsWith('unix:') ? env.VPNSVC_LISTEN : `${env.VPNSVC_TLS_CERT ? 'https' : 'http'}://${env.VPNSVC_LISTEN}`;
  }
  raw ??= DEFAULT_URL;
  let base: URL;
  let socketPath: string | undefined;
  if (raw.startsWith('unix:')) {
    socketPath = raw.slice('unix:'.length);
    base = new URL('http://localhost');
  } else {
    try {
      base = new URL(raw);
    } catch {
      throw new UsageError(`not a URL: "${raw}" (expected http(s)://host:port or unix:/path)`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`unsupported URL scheme in "${raw}"`);
  }
  const caPath = flags.ca ?? env.VPNSVC_CA;
  const ca = caPath ? readLocalFile(caPath, flags.ca ? '--ca' : 'VPNSVC_CA') : undefined;

  const candidates: [string, () => string | undefined][] = [
    ['--token', () => flags.token],
    ['--token-file', () => (flags.tokenFile ? readToken(flags.tokenFile, 'the --token-file') : undefined)],
    ['VPNSVC_TOKEN', () => env.VPNSVC_TOKEN],
    ['VPNSVC_TOKEN_FILE', () => (env.VPNSVC_TOKEN_FILE ? readToken(env.VPNSVC_TOKEN_FILE, 'VPNSVC_TOKEN_FILE') : undefined)],
    [
      'VPNSVC_ADMIN_TOKEN_FILE',
      () => (env.VPNSVC_ADMIN_TOKEN_FILE ? readToken(env.VPNSVC_ADMIN_TOKEN_FILE, 'VPNSVC_ADMIN_TOKEN_FILE') : undefined),
    ],
  ];
  for (const [source, get] of candidates) {
    const token = get();
    if (token) return { base, ...(socketPath && { socketPath }), ...(ca && { ca }), token, tokenSource: source };
  }
  const stateFile = join(env.VPNSVC_STATE_DIR ?? DEFAULT_STATE_DIR, 'admin.token');
  let token: string | undefined;
  let why = 'empty';
  try {
    token = readFileSync(stateFile, 'utf8').trim();
  } catch (err) {
    // No readable admin token: requests go without one; a 401 then says where the CLI looked.
    why = (err as NodeJS.ErrnoException).code ?? 'unreadable';
  }
  return {
    base,
    ...(socketPath && { socketPath }),
    ...(ca && { ca }),
    ...(token ? { token } : { tokenLookedFor: `${stateFile} (${why})` }),
    tokenSource: token ? stateFile : 'none',
  };
}

export class UsageError extends Error {}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw bytes sent as application/octet-stream. */
  bytes?: Buffer;
  query?: Record<string, string | number | undefined>;
  accept?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export function requestUrl(ep: Endpoint, path: string, query?: RequestOptions['query']): URL {
  const url = new URL(path.replace(/^\//, ''), ep.base.href.endsWith('/') ? ep.base : new URL(`${ep.base.href}/`));
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/** One request; resolves on any HTTP status, rejects only when the daemon cannot be reached. */
export function send(ep: Endpoint, method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const url = requestUrl(ep, path, opts.query);
  const payload = opts.bytes ?? (opts.body !== undefined ? Buffer.from(JSON.stringify(opts.body)) : undefined);
  const headers: Record<string, string> = {
    accept: opts.accept ?? 'application/json',
    ...(ep.token && { authorization: `Bearer ${ep.token}` }),
    ...(payload && {
      'content-type': opts.bytes ? 'application/octet-stream' : 'application/json',
      'content-length': String(payload.length),
    }),
    ...opts.headers,
  };
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method,
        headers,
        ...(ep.socketPath && { socketPath: ep.socketPath }),
        ...(ep.ca && { ca: ep.ca }),
        ...(opts.timeoutMs && { timeout: opts.timeoutMs }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new ConnectError(`no answer from ${where(ep)} within ${opts.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(err instanceof ConnectError ? err : new ConnectError(`cannot reach vpnsvc at ${where(ep)}: ${err.code ?? err.message}`));
    });
    req.end(payload);
  });
}

export function where(ep: Endpoint): string {
  return ep.socketPath ? `unix:${ep.socketPath}` : ep.base.origin;
}

/** Parses a JSON answer, turning the service's error body into a ServiceError. */
export function json(res: Response): unknown {
  const text = res.body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.status >= 400) {
    const e = parsed as { error?: string; code?: number; message?: string } | undefined;
    throw new ServiceError(
      res.status,
      e?.error ?? `HTTP_${res.status}`,
      e?.code,
      e?.message ?? (text.slice(0, 200) || `HTTP ${res.status}`),
    );
  }
  return parsed;
}

/**
 * A long-lived GET (Server-Sent Events). Calls onChunk with text as it arrives; resolves when the
 * server ends the stream or the signal aborts, rejects on connection errors and error statuses.
 */
export function stream(
  ep: Endpoint,
  path: string,
  opts: RequestOptions & { signal: AbortSignal; onChunk: (text: string) => void },
): Promise<void> {
  const url = requestUrl(ep, path, opts.query);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) return resolve();
    const req = lib.request(
      url,
      {
        method: 'GET',
        headers: { accept: opts.accept ?? 'text/event-stream', ...(ep.token && { authorization: `Bearer ${ep.token}` }), ...opts.headers },
        ...(ep.socketPath && { socketPath: ep.socketPath }),
        ...(ep.ca && { ca: ep.ca }),
      },
      (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              json({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
            } catch (e) {
              reject(e);
            }
          });
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (t: string) => opts.onChunk(t));
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      },
    );
    const abort = () => {
      req.destroy();
      resolve();
    };
    opts.signal.addEventListener('abort', abort, { once: true });
    req.on('close', () => opts.signal.removeEventListener('abort', abort));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (opts.signal.aborted) return resolve();
      reject(new ConnectError(`cannot reach vpnsvc at ${where(ep)}: ${err.code ?? err.message}`));
    });
    req.end();
  });
}
