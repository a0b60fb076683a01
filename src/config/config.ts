/** Daemon configuration from the environment, validated at start with a clear message. */
import { isIP } from 'node:net';
import envSchema from 'env-schema';

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface Config {
  listen: Listen;
  stateDir: string;
  logLevel: string;
  /** HTTPS/WSS when both are set: PEM file paths. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** SIGTERM/SIGINT: the bound on shutdown before the daemon exits anyway. */
  shutdownTimeoutMs: number;
  /** A file holding the admin token (e.g. a Kubernetes Secret), installed at start. */
  adminTokenFile: string | undefined;
  followers: FollowerLimits;
  http: HttpLimits;
  /** The fd channel's socket path (VPNSVC_FD_CHANNEL); undefined when it is off. */
  fdChannel: string | undefined;
  browser: BrowserSettings;
}

/** GET /events followers (WebSocket and SSE): how many at once, and the SSE keepalive period. */
export interface FollowerLimits {
  max: number;
  maxPerToken: number;
  sseKeepaliveMs: number;
}

export const DEFAULT_FOLLOWER_LIMITS: FollowerLimits = { max: 64, maxPerToken: 16, sseKeepaliveMs: 15_000 };

const FOLLOWER_ENV = {
  VPNSVC_MAX_FOLLOWERS: { type: 'integer', default: DEFAULT_FOLLOWER_LIMITS.max, minimum: 1, maximum: 10000 },
  VPNSVC_MAX_FOLLOWERS_PER_TOKEN: { type: 'integer', default: DEFAULT_FOLLOWER_LIMITS.maxPerToken, minimum: 1, maximum: 10000 },
  VPNSVC_SSE_KEEPALIVE_MS: { type: 'integer', default: DEFAULT_FOLLOWER_LIMITS.sseKeepaliveMs, minimum: 50, maximum: 600000 },
} as const;

interface FollowerEnv {
  VPNSVC_MAX_FOLLOWERS: number;
  VPNSVC_MAX_FOLLOWERS_PER_TOKEN: number;
  VPNSVC_SSE_KEEPALIVE_MS: number;
}

/** Timeouts and connection limits of the HTTP server (README.md, "Timeouts and connection limits"). */
export interface HttpLimits {
  /** The request's headers must arrive within this. */
  headersTimeoutMs: number;
  /** The whole request, headers and body, must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection on which nothing moves for this long is closed (long-lived responses excepted). */
  connectionTimeoutMs: number;
  /** 0: no limit. */
  maxRequestsPerSocket: number;
  maxConnections: number;
  /** Connections that have not presented a valid token: at most this many, the oldest closed first. */
  maxUnauthenticatedConnections: number;
  /** A connection that has not presented a valid token within this is closed. */
  authTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionTimeoutMs: 60_000,
  maxRequestsPerSocket: 1000,
  maxConnections: 512,
  maxUnauthenticatedConnections: 64,
  authTimeoutMs: 10_000,
};

const HTTP_LIMITS_ENV = {
  VPNSVC_HEADERS_TIMEOUT_MS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.headersTimeoutMs, minimum: 100, maximum: 600000 },
  VPNSVC_REQUEST_TIMEOUT_MS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.requestTimeoutMs, minimum: 100, maximum: 3600000 },
  VPNSVC_KEEP_ALIVE_TIMEOUT_MS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs, minimum: 100, maximum: 600000 },
  VPNSVC_CONNECTION_TIMEOUT_MS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.connectionTimeoutMs, minimum: 100, maximum: 3600000 },
  VPNSVC_MAX_REQUESTS_PER_SOCKET: { type: 'integer', default: DEFAULT_HTTP_LIMITS.maxRequestsPerSocket, minimum: 0, maximum: 1000000 },
  VPNSVC_MAX_CONNECTIONS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.maxConnections, minimum: 2, maximum: 1000000 },
  VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS: {
    type: 'integer',
    default: DEFAULT_HTTP_LIMITS.maxUnauthenticatedConnections,
    minimum: 1,
    maximum: 1000000,
  },
  VPNSVC_AUTH_TIMEOUT_MS: { type: 'integer', default: DEFAULT_HTTP_LIMITS.authTimeoutMs, minimum: 100, maximum: 600000 },
} as const;

interface HttpLimitsEnv {
  VPNSVC_HEADERS_TIMEOUT_MS: number;
  VPNSVC_REQUEST_TIMEOUT_MS: number;
  VPNSVC_KEEP_ALIVE_TIMEOUT_MS: number;
  VPNSVC_CONNECTION_TIMEOUT_MS: number;
  VPNSVC_MAX_REQUESTS_PER_SOCKET: number;
  VPNSVC_MAX_CONNECTIONS: number;
  VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS: number;
  VPNSVC_AUTH_TIMEOUT_MS: number;
}

/** Browser sessions of the console and /docs, and the origins allowed besides the daemon's own (README.md, "The console"). */
export interface BrowserSettings {
  sessions: { idleMs: number; maxAgeMs: number; max: number };
  /** Origins (scheme://host[:port]) whose pages may call the API: CORS and the cookie's Origin check. Empty: none. */
  corsOrigins: string[];
}

export const DEFAULT_BROWSER_SETTINGS: BrowserSettings = {
  sessions: { idleMs: 30 * 60_000, maxAgeMs: 12 * 3600_000, max: 64 },
  corsOrigins: [],
};

const BROWSER_ENV = {
  VPNSVC_SESSION_IDLE_MS: { type: 'integer', default: DEFAULT_BROWSER_SETTINGS.sessions.idleMs, minimum: 1000, maximum: 604800000 },
  VPNSVC_SESSION_MAX_AGE_MS: { type: 'integer', default: DEFAULT_BROWSER_SETTINGS.sessions.maxAgeMs, minimum: 1000, maximum: 2592000000 },
  VPNSVC_MAX_SESSIONS: { type: 'integer', default: DEFAULT_BROWSER_SETTINGS.sessions.max, minimum: 1, maximum: 10000 },
  VPNSVC_CORS_ORIGINS: { type: 'string', default: '' },
} as const;

interface BrowserEnv {
  VPNSVC_SESSION_IDLE_MS: number;
  VPNSVC_SESSION_MAX_AGE_MS: number;
  VPNSVC_MAX_SESSIONS: number;
  VPNSVC_CORS_ORIGINS: string;
}

/** An origin as a browser sends it: scheme, host, a port unless the default, no path. */
function parseOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`invalid configuration: VPNSVC_CORS_ORIGINS: "${value}" is not an origin like https://console.example:8443`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value.replace(/\/$/, '')) {
    throw new Error(`invalid configuration: VPNSVC_CORS_ORIGINS: "${value}" is not an origin (scheme://host[:port], no path)`);
  }
  return url.origin;
}

function browserSettingsOf(raw: BrowserEnv): BrowserSettings {
  return {
    sessions: { idleMs: raw.VPNSVC_SESSION_IDLE_MS, maxAgeMs: raw.VPNSVC_SESSION_MAX_AGE_MS, max: raw.VPNSVC_MAX_SESSIONS },
    corsOrigins: raw.VPNSVC_CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean)
      .map(parseOrigin),
  };
}

/** The browser settings alone, for the composition root. */
export function browserSettings(env: NodeJS.ProcessEnv = process.env): BrowserSettings {
  let raw: BrowserEnv;
  try {
    raw = envSchema<BrowserEnv>({ schema: { type: 'object', properties: BROWSER_ENV }, data: env, dotenv: false });
  } catch (err) {
    throw new Error(`invalid configuration: ${(err as Error).message}`);
  }
  return browserSettingsOf(raw);
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

import { DEFAULT_LISTEN, DEFAULT_STATE_DIR } from './defaults.js';

export { DEFAULT_LISTEN, DEFAULT_STATE_DIR };

const ENV_SCHEMA = {
  type: 'object',
  properties: {
    VPNSVC_LISTEN: { type: 'string', default: DEFAULT_LISTEN, minLength: 1 },
    VPNSVC_STATE_DIR: { type: 'string', default: DEFAULT_STATE_DIR, pattern: '^/' },
    VPNSVC_LOG_LEVEL: {
      type: 'string',
      default: 'info',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    },
    VPNSVC_TLS_CERT: { type: 'string', pattern: '^/' },
    VPNSVC_TLS_KEY: { type: 'string', pattern: '^/' },
    VPNSVC_SHUTDOWN_TIMEOUT_MS: { type: 'integer', default: DEFAULT_SHUTDOWN_TIMEOUT_MS, minimum: 100, maximum: 600000 },
    VPNSVC_ADMIN_TOKEN_FILE: { type: 'string', pattern: '^/' },
    VPNSVC_FD_CHANNEL: { type: 'string', pattern: '^(off|/.+)$' },
    ...FOLLOWER_ENV,
    ...HTTP_LIMITS_ENV,
    ...BROWSER_ENV,
  },
} as const;

interface RawEnv extends FollowerEnv, HttpLimitsEnv, BrowserEnv {
  VPNSVC_LISTEN: string;
  VPNSVC_STATE_DIR: string;
  VPNSVC_LOG_LEVEL: string;
  VPNSVC_TLS_CERT?: string;
  VPNSVC_TLS_KEY?: string;
  VPNSVC_SHUTDOWN_TIMEOUT_MS: number;
  VPNSVC_ADMIN_TOKEN_FILE?: string;
  VPNSVC_FD_CHANNEL?: string;
}

/** `host:port`, `[v6]:port` or `unix:/path`. */
export function parseListen(value: string): Listen {
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    if (!path.startsWith('/')) throw new Error(`VPNSVC_LISTEN: "${value}": a unix socket needs an absolute path (unix:/run/vpnsvc.sock)`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`VPNSVC_LISTEN: "${value}" is not host:port, [ipv6]:port or unix:/path`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`VPNSVC_LISTEN: port ${port} is out of range (0-65535)`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new Error(`VPNSVC_LISTEN: "${host}" is not an IPv6 address`);
  return { kind: 'tcp', host, port };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let raw: RawEnv;
  try {
    raw = envSchema<RawEnv>({ schema: ENV_SCHEMA, data: env, dotenv: false });
  } catch (err) {
    throw new Error(`invalid configuration: ${(err as Error).message}`);
  }
  if ((raw.VPNSVC_TLS_CERT === undefined) !== (raw.VPNSVC_TLS_KEY === undefined)) {
    throw new Error('invalid configuration: VPNSVC_TLS_CERT and VPNSVC_TLS_KEY go together (both PEM file paths, or neither)');
  }
  return {
    listen: parseListen(raw.VPNSVC_LISTEN),
    stateDir: raw.VPNSVC_STATE_DIR,
    logLevel: raw.VPNSVC_LOG_LEVEL,
    tls: raw.VPNSVC_TLS_CERT && raw.VPNSVC_TLS_KEY ? { certFile: raw.VPNSVC_TLS_CERT, keyFile: raw.VPNSVC_TLS_KEY } : undefined,
    shutdownTimeoutMs: raw.VPNSVC_SHUTDOWN_TIMEOUT_MS,
    adminTokenFile: raw.VPNSVC_ADMIN_TOKEN_FILE,
    followers: followerLimitsOf(raw),
    http: httpLimitsOf(raw),
    fdChannel: fdChannelOf(raw.VPNSVC_FD_CHANNEL, parseListen(raw.VPNSVC_LISTEN), raw.VPNSVC_STATE_DIR),
    browser: browserSettingsOf(raw),
  };
}

/**
 * Where the fd channel listens: VPNSVC_FD_CHANNEL ("off" for nowhere), else beside the API's
 * unix socket (/run/vpnsvc.sock → /run/vpnsvc-fd.sock), else in the state directory (mode 0700:
 * only root reaches it there, so a daemon on TCP serving applications names a path).
 */
function fdChannelOf(value: string | undefined, listen: Listen, stateDir: string): string | undefined {
  if (value === 'off') return undefined;
  if (value !== undefined) return value;
  if (listen.kind === 'unix')
    return listen.path.endsWith('.sock') ? `${listen.path.slice(0, -'.sock'.length)}-fd.sock` : `${listen.path}-fd.sock`;
  return `${stateDir.replace(/\/+$/, '')}/fd.sock`;
}

/** The fd channel's path alone, for the composition root (which gets the environment, not a Config). */
export function fdChannelPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.VPNSVC_FD_CHANNEL;
  if (value !== undefined && !/^(off|\/.+)$/.test(value)) {
    throw new Error(`invalid configuration: VPNSVC_FD_CHANNEL must be an absolute path or "off", not "${value}"`);
  }
  return fdChannelOf(value, parseListen(env.VPNSVC_LISTEN ?? DEFAULT_LISTEN), env.VPNSVC_STATE_DIR ?? DEFAULT_STATE_DIR);
}

function followerLimitsOf(raw: FollowerEnv): FollowerLimits {
  return { max: raw.VPNSVC_MAX_FOLLOWERS, maxPerToken: raw.VPNSVC_MAX_FOLLOWERS_PER_TOKEN, sseKeepaliveMs: raw.VPNSVC_SSE_KEEPALIVE_MS };
}

/** The follower settings alone, for the composition root (which gets the environment, not a Config). */
export function followerLimits(env: NodeJS.ProcessEnv = process.env): FollowerLimits {
  try {
    return followerLimitsOf(envSchema<FollowerEnv>({ schema: { type: 'object', properties: FOLLOWER_ENV }, data: env, dotenv: false }));
  } catch (err) {
    throw new Error(`invalid configuration: ${(err as Error).message}`);
  }
}

function httpLimitsOf(raw: HttpLimitsEnv): HttpLimits {
  const limits: HttpLimits = {
    headersTimeoutMs: raw.VPNSVC_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: raw.VPNSVC_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: raw.VPNSVC_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeoutMs: raw.VPNSVC_CONNECTION_TIMEOUT_MS,
    maxRequestsPerSocket: raw.VPNSVC_MAX_REQUESTS_PER_SOCKET,
    maxConnections: raw.VPNSVC_MAX_CONNECTIONS,
    maxUnauthenticatedConnections: raw.VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS,
    authTimeoutMs: raw.VPNSVC_AUTH_TIMEOUT_MS,
  };
  // Node refuses a headers timeout longer than the request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new Error(
      `invalid configuration: VPNSVC_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not exceed VPNSVC_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`,
    );
  }
  if (limits.maxUnauthenticatedConnections >= limits.maxConnections) {
    throw new Error(
      `invalid configuration: VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS (${limits.maxUnauthenticatedConnections}) must be below VPNSVC_MAX_CONNECTIONS (${limits.maxConnections}), or connections without a token could take them all`,
    );
  }
  return limits;
}

/** The HTTP limits alone, for the composition root (which gets the environment, not a Config). */
export function httpLimits(env: NodeJS.ProcessEnv = process.env): HttpLimits {
  let raw: HttpLimitsEnv;
  try {
    raw = envSchema<HttpLimitsEnv>({ schema: { type: 'object', properties: HTTP_LIMITS_ENV }, data: env, dotenv: false });
  } catch (err) {
    throw new Error(`invalid configuration: ${(err as Error).message}`);
  }
  return httpLimitsOf(raw);
}
