/**
 * The one way vpnsvc runs a program (nft, ip, resolvectl, resolvconf): an argument array, never
 * a shell; a timeout that kills it; stdout returned; a failure that says what ran and what it
 * printed on stderr; a missing program reported as such, so the caller can name its package.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const COMMAND_TIMEOUT_MS = 5000;
/** After SIGTERM at the timeout, the time a program gets to exit before SIGKILL. */
const KILL_GRACE_MS = 1000;
/** Far above what any of our programs prints; a runaway one is killed, not buffered. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface RunOptions {
  /** Written to the child's stdin. Without it, stdin is /dev/null. */
  input?: string | Uint8Array;
  /**
   * How input reaches the child: 'pipe' (the default), or 'file', a private, already unlinked
   * regular file, for programs that open /dev/stdin (nft 1.0.6 with `-f -`), which fails with
   * ENXIO on the socketpair node gives a child.
   */
  stdin?: 'pipe' | 'file';
  timeoutMs?: number;
  /** The Debian package that ships the program, named when it is not installed. */
  debianPackage?: string;
}

/** The program ran and failed: non-zero exit, a signal, the timeout, or too much output. */
export class ProgramError extends Error {
  constructor(
    readonly program: string,
    readonly args: readonly string[],
    /** Trimmed. */
    readonly stderr: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly timedOut: boolean,
    why: string,
  ) {
    super(`${commandLine(program, args)}: ${why}`);
    this.name = 'ProgramError';
  }
}

/** The program is not installed (spawn's ENOENT). */
export class ProgramNotFoundError extends Error {
  readonly code = 'ENOENT';

  constructor(
    readonly program: string,
    readonly debianPackage?: string,
  ) {
    super(`${program} is not installed${debianPackage ? `: install the Debian package "${debianPackage}"` : ' (not found in PATH)'}`);
    this.name = 'ProgramNotFoundError';
  }
}

export type RunProgram = (file: string, args: readonly string[], options?: RunOptions) => Promise<string>;

const commandLine = (file: string, args: readonly string[]): string => [file, ...args].join(' ');

/** The fd of a regular file holding `input`, already unlinked, so nothing is left on disk. */
function regularFileWith(input: string | Uint8Array): number {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-stdin-'));
  try {
    const path = join(dir, 'stdin');
    writeFileSync(path, input, { mode: 0o600 });
    return openSync(path, 'r');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs file with args; resolves with its stdout when it exits 0. */
export const runProgram: RunProgram = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const { input, timeoutMs = COMMAND_TIMEOUT_MS } = options;
    const stdinFd = input !== undefined && options.stdin === 'file' ? regularFileWith(input) : undefined;
    const stdin: 'ignore' | 'pipe' | number = input === undefined ? 'ignore' : (stdinFd ?? 'pipe');
    let child: ChildProcessByStdio<Writable | null, Readable, Readable>;
    try {
      child = spawn(file, [...args], { stdio: [stdin, 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    } finally {
      // The child has its own copy of the fd once spawned.
      if (stdinFd !== undefined) closeSync(stdinFd);
    }

    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let overflow = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);

    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (err) reject(err);
      else resolve(stdout);
    };
    const failure = (code: number | null, signal: NodeJS.Signals | null): ProgramError => {
      const trimmed = stderr.trim();
      const why = timedOut
        ? `timed out after ${timeoutMs} ms${trimmed ? `: ${trimmed}` : ''}`
        : overflow
          ? `printed more than ${MAX_OUTPUT_BYTES} bytes`
          : trimmed || (signal ? `killed by ${signal}` : `exit ${code}`);
      return new ProgramError(file, args, trimmed, code, signal, timedOut, why);
    };
    const collect = (append: (chunk: string) => void) => (chunk: string) => {
      if (stdout.length + stderr.length + chunk.length > MAX_OUTPUT_BYTES) {
        overflow = true;
        child.kill('SIGKILL');
        return;
      }
      append(chunk);
    };

    child.stdout.setEncoding('utf8').on(
      'data',
      collect((c) => (stdout += c)),
    );
    child.stderr.setEncoding('utf8').on(
      'data',
      collect((c) => (stderr += c)),
    );
    // A program that does not read its input (or exits first) makes the write fail with EPIPE.
    // Its exit status says whether it got what it needed; the error must not reach the process.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') settle(new ProgramNotFoundError(file, options.debianPackage));
      else settle(new ProgramError(file, args, stderr.trim(), null, null, false, `cannot run: ${err.message}`));
    });
    // A killed program's children may hold its stdout open: after the timeout, exit is enough.
    child.on('exit', (code, signal) => {
      if (!timedOut) return;
      settle(failure(code, signal));
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.on('close', (code, signal) => {
      settle(code === 0 && !overflow ? undefined : failure(code, signal));
    });
  });
