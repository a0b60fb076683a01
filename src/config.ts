/** Daemon configuration from the environment, validated at start with a clear message. */
import { isIP } from 'node:net';
import envSchema from 'env-schema';

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface Config {
  listen: Listen;
  stateDir: string;
  logLevel: string;
}

export const DEFAULT_LISTEN = '127.0.0.1:8760';
export const DEFAULT_STATE_DIR = '/var/lib/vpnsvc';

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
  },
} as const;

interface RawEnv {
  VPNSVC_LISTEN: string;
  VPNSVC_STATE_DIR: string;
  VPNSVC_LOG_LEVEL: string;
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
  return {
    listen: parseListen(raw.VPNSVC_LISTEN),
    stateDir: raw.VPNSVC_STATE_DIR,
    logLevel: raw.VPNSVC_LOG_LEVEL,
  };
}
