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
  },
} as const;

interface RawEnv {
  VPNSVC_LISTEN: string;
  VPNSVC_STATE_DIR: string;
  VPNSVC_LOG_LEVEL: string;
  VPNSVC_TLS_CERT?: string;
  VPNSVC_TLS_KEY?: string;
  VPNSVC_SHUTDOWN_TIMEOUT_MS: number;
  VPNSVC_ADMIN_TOKEN_FILE?: string;
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
  };
}
