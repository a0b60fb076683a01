#!/usr/bin/env node
/**
 * vpnsvc: the command-line client of the vpnsvc daemon. Every failure is one line on stderr and
 * an exit code: EXIT (program.ts) for the CLI's own, EXIT_CODES for the service's errors.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { packageVersion } from '../config/version.js';
import { ConnectError, type Endpoint, LocalFileError, resolveEndpoint, ServiceError, UsageError } from './client.js';
import type { CliContext, Io } from './command.js';
import { COMMANDS } from './commands.js';
import { buildProgram, CommanderError, EXIT, GroupUsage, type Invocation, TOKEN_ORDER } from './program.js';

/** One exit code per service error, so scripts can branch without parsing text. */
export const EXIT_CODES: Record<string, number> = {
  VPNSVC_ERROR_INVALID_PARAMETER: 10,
  VPNSVC_ERROR_PERMISSION_DENIED: 11,
  VPNSVC_ERROR_NO_SUCH_FILE: 12,
  VPNSVC_ERROR_IO_ERROR: 13,
  VPNSVC_ERROR_TIMEOUT: 14,
  VPNSVC_ERROR_IPC_FAILED: 15,
  VPNSVC_ERROR_NOT_SUPPORTED: 16,
  VPNSVC_ERROR_OUT_OF_MEMORY: 17,
};
export const EXIT_USAGE = EXIT.usage;
export const EXIT_UNREACHABLE = EXIT.unreachable;

/**
 * The service's messages name REST operations ("POST /interfaces"); the CLI says which of its
 * commands does that instead.
 */
export function inCliWords(message: string): string {
  return message.replace(/\b(GET|PUT|POST|PATCH|DELETE) (\/[\w{}/.~%:-]*)/g, (whole, method: string, path: string) => {
    // Creating an interface, for a user, is bringing a VPN up.
    if (method === 'POST' && path === '/interfaces') return 'vpnsvc up';
    // The command that does only this, before one (like `up`) that also does it.
    const byFocus = [...COMMANDS].sort((a, b) => (a.operations?.length ?? 0) - (b.operations?.length ?? 0));
    const hit = byFocus.find((c) =>
      c.operations?.some((op) => {
        const [m, template] = op.split(' ') as [string, string];
        const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}$`);
        return m === method && re.test(path);
      }),
    );
    return hit ? `vpnsvc ${hit.words.join(' ')}` : whole;
  });
}

function noToken(ep: Endpoint | undefined): string {
  return `no token was sent: looked for ${ep?.tokenLookedFor ?? 'admin.token in the state directory'}; give one with --token-file FILE or $VPNSVC_TOKEN, or set VPNSVC_STATE_DIR to the daemon's state directory (order: ${TOKEN_ORDER})`;
}

export async function run(argv: string[], io: Io, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<number> {
  if (argv.length === 0) {
    io.err('vpnsvc: name a command, e.g. vpnsvc status (vpnsvc --help lists them all)');
    return EXIT.usage;
  }
  let chosen: Invocation | undefined;
  const program = buildProgram(COMMANDS, packageVersion(), io, (inv) => {
    chosen = inv;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof GroupUsage) {
      io.err(`vpnsvc: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
  if (!chosen) return EXIT.usage;
  const { command, parsed, global } = chosen;
  let endpoint: Endpoint | undefined;
  const json = global.json || argv.includes('--json');
  try {
    const ctx: CliContext = {
      endpoint: () => {
        endpoint ??= resolveEndpoint(global, env);
        return endpoint;
      },
      json,
      io,
      env,
      signal,
    };
    return (await command.run(ctx, parsed)) ?? EXIT.ok;
  } catch (err) {
    if (err instanceof ServiceError) {
      const message = err.status === 401 && !endpoint?.token ? noToken(endpoint) : inCliWords(err.message);
      if (json) io.out(JSON.stringify({ error: err.errorName, code: err.code, message: err.message, status: err.status }));
      io.err(`vpnsvc: ${err.errorName}: ${message}`);
      return EXIT_CODES[err.errorName] ?? EXIT.failed;
    }
    if (err instanceof ConnectError) {
      io.err(`vpnsvc: ${err.message} (is the daemon running? --url or $VPNSVC_URL say where it listens)`);
      return EXIT.unreachable;
    }
    if (err instanceof LocalFileError) {
      io.err(`vpnsvc: ${err.message}`);
      return EXIT.localFile;
    }
    if (err instanceof UsageError) {
      io.err(`vpnsvc: ${err.message}`);
      return EXIT.usage;
    }
    io.err(`vpnsvc: ${(err as Error).message ?? String(err)}`);
    return EXIT.failed;
  }
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    write: (b) => process.stdout.write(b),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    isTTY: process.stdout.isTTY === true,
  };
}

// Run only as the program (also through npm's bin symlink), not when imported by tests.
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  // A reader that goes away (`vpnsvc spec | head`) ends the output, not in a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  const code = await run(process.argv.slice(2), processIo(), process.env, ac.signal);
  // exitCode, not exit(): stdout to a pipe drains first.
  process.exitCode = code;
}
