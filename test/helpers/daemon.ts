/** Starts the real daemon (src/server.ts) as a child process on a unix socket in a temp dir. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseListen } from '../../src/config/config.js';
import { projectRoot } from '../../src/config/project-root.js';

export interface Daemon {
  child: ChildProcess;
  dir: string;
  socket: string;
  /** Where it listens when VPNSVC_LISTEN is host:port (else on `socket`). */
  tcp: { host: string; port: number } | undefined;
  output(): string;
  exited: Promise<number | null>;
  token(): string;
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** A command the daemon runs under, e.g. ['ip', 'netns', 'exec', NAME] (it execs in place). */
  prefix?: string[];
  /** Keep `dir` at stop, so a daemon started again on it has the same state and token. */
  keepDir?: boolean;
  /** The daemon's RLIMIT_NOFILE, soft and hard (through prlimit, util-linux). */
  nofile?: number;
}

/** host:port when the daemon is told to listen on TCP; a bad value is the daemon's to refuse. */
function tcpListen(value: string | undefined): { host: string; port: number } | undefined {
  try {
    const listen = value === undefined ? undefined : parseListen(value);
    return listen?.kind === 'tcp' ? { host: listen.host, port: listen.port } : undefined;
  } catch {
    return undefined;
  }
}

export function spawnDaemon(
  env: Record<string, string> = {},
  dir = mkdtempSync(join(tmpdir(), 'vpnsvc-daemon-')),
  { prefix = [], keepDir = false, nofile }: SpawnOptions = {},
): Daemon {
  const socket = join(dir, 'vpnsvc.sock');
  const tcp = tcpListen(env.VPNSVC_LISTEN);
  const limit = nofile === undefined ? [] : ['prlimit', `--nofile=${nofile}:${nofile}`, '--'];
  const command = [...limit, ...prefix, process.execPath, '--import', 'tsx', join(projectRoot(), 'src/server.ts')];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: projectRoot(),
    env: { ...process.env, VPNSVC_STATE_DIR: join(dir, 'state'), VPNSVC_LISTEN: `unix:${socket}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const daemon: Daemon = {
    child,
    dir,
    socket,
    tcp,
    exited,
    output: () => out,
    token: () => readFileSync(join(dir, 'state', 'admin.token'), 'utf8').trim(),
    call: (method, path, body, token = daemon.token()) =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          {
            ...(tcp ?? { socketPath: socket }),
            method,
            path,
            headers: {
              authorization: `Bearer ${token}`,
              ...(payload ? { 'content-type': 'application/json' } : {}),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
          },
        );
        req.on('error', reject);
        req.end(payload);
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return daemon;
}

/** Waits (bounded) until the daemon answers /health. */
export async function waitReady(daemon: Daemon, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (daemon.child.exitCode !== null) throw new Error(`daemon exited early:\n${daemon.output()}`);
    if (daemon.tcp || existsSync(daemon.socket)) {
      try {
        if ((await daemon.call('GET', '/health', undefined, '')).status === 200) return;
      } catch {
        // not listening yet
      }
    }
    await sleep(100);
  }
  throw new Error(`daemon not ready after ${ms} ms:\n${daemon.output()}`);
}

/** The daemon's log lines that are JSON objects (pino writes one per line). */
export function logLines(d: Daemon): Record<string, any>[] {
  return d
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}
