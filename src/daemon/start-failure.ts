/**
 * Why the daemon could not start, as one line an operator can act on (the cause and the fix),
 * and the exit code that goes with it. The codes are the daemon's contract with service
 * managers and scripts; README "Starting and stopping the daemon" lists them.
 */
import { existsSync, lstatSync, type Stats } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import type { Listen } from '../config/config.js';

export const DAEMON_EXIT = {
  /** Stopped cleanly on SIGTERM/SIGINT. */
  ok: 0,
  /** Could not run: the native shim is missing, another daemon holds the state directory, shutdown overran its bound. */
  failed: 1,
  /** Bad configuration: a VPNSVC_* value, a TLS or admin-token file, an unsafe state directory, the DNS backend. */
  config: 2,
  /** Cannot listen: the address is in use, not this host's, or not permitted. */
  listen: 3,
  /** The state directory cannot be created or written (not root, read-only file system). */
  stateDir: 4,
} as const;

export class StartFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

function where(listen: Listen): string {
  return listen.kind === 'unix' ? `unix:${listen.path}` : `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

/** A listen() error as cause and fix. */
export function listenFailure(err: unknown, listen: Listen): StartFailure {
  const code = (err as NodeJS.ErrnoException).code;
  const at = where(listen);
  const fixes: Record<string, string> = {
    EADDRINUSE: `another program listens there (see \`ss -ltnp\`, or another vpnsvc-daemon); stop it or set VPNSVC_LISTEN to a free address`,
    EADDRNOTAVAIL: "that address is not one of this host's; set VPNSVC_LISTEN to one of its addresses (ip -br addr) or 127.0.0.1:PORT",
    EACCES: 'ports below 1024 need root or CAP_NET_BIND_SERVICE; use a higher port in VPNSVC_LISTEN',
    ENOENT: 'the directory of the socket does not exist; create it or choose another VPNSVC_LISTEN=unix:/path',
  };
  const fix = (code && fixes[code]) ?? 'check VPNSVC_LISTEN';
  return new StartFailure(DAEMON_EXIT.listen, `cannot listen on ${at} (${code ?? (err as Error).message}): ${fix}`);
}

/**
 * Fails early when the address cannot be listened on (a TCP address taken; a socket path whose
 * directory is missing or that holds something else), before the first start writes a token
 * it would not use.
 */
export async function probeListen(listen: Listen): Promise<void> {
  if (listen.kind === 'unix') {
    if (!existsSync(dirname(listen.path))) throw listenFailure(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), listen);
    let st: Stats | undefined;
    try {
      st = lstatSync(listen.path);
    } catch {
      // nothing there: bind() makes it
    }
    if (st && !st.isSocket() && !st.isSymbolicLink()) {
      throw new StartFailure(
        DAEMON_EXIT.listen,
        `VPNSVC_LISTEN: ${listen.path} exists and is not a socket: move it away or listen elsewhere`,
      );
    }
    return;
  }
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host: listen.host, port: listen.port, exclusive: true }, resolve);
    });
  } catch (err) {
    throw listenFailure(err, listen);
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/** The state directory could not be created, read or written. */
export function stateDirFailure(err: unknown, stateDir: string): StartFailure {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new StartFailure(
      DAEMON_EXIT.stateDir,
      `cannot write the state directory ${stateDir} (${code}): run the daemon as root, or set VPNSVC_STATE_DIR to a directory this user owns`,
    );
  }
  if (code === 'EROFS') {
    return new StartFailure(
      DAEMON_EXIT.stateDir,
      `the state directory ${stateDir} is on a read-only file system (EROFS): set VPNSVC_STATE_DIR to a writable directory`,
    );
  }
  return new StartFailure(DAEMON_EXIT.config, `state directory ${stateDir}: ${(err as Error).message}`);
}
