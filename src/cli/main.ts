#!/usr/bin/env node
/**
 * vpnsvc: the command-line client of the vpnsvc daemon. Exit codes: 0 done; 2 usage; 3 the
 * daemon cannot be reached; 10+ the service's error (see EXIT_CODES); 1 anything else.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConnectError, DEFAULT_URL, type Endpoint, resolveEndpoint, ServiceError, UsageError } from './client.js';
import type { CliCommand, CliContext, Io } from './command.js';
import { COMMANDS, findCommand } from './commands.js';
import { GLOBAL_OPTIONS, parseFor } from './parse.js';

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
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

function usage(): string {
  const rows = COMMANDS.map((c) => [`${c.words.join(' ')}${c.args ? ` ${c.args}` : ''}`, c.summary] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return [
    'usage: vpnsvc [--url URL] [--token-file FILE] [--ca FILE] [--json] <command> [args]',
    '',
    'commands:',
    ...rows.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`),
    '',
    `daemon:  --url, else VPNSVC_URL, else VPNSVC_LISTEN, else ${DEFAULT_URL} (unix:/path for a socket); --ca FILE or VPNSVC_CA for a private CA`,
    'token:   --token-file, VPNSVC_TOKEN, VPNSVC_TOKEN_FILE, VPNSVC_ADMIN_TOKEN_FILE, else $VPNSVC_STATE_DIR/admin.token',
    `exit:    0 ok, 2 usage, 3 daemon unreachable, ${Object.entries(EXIT_CODES)
      .map(([k, v]) => `${v} ${k.replace('VPNSVC_ERROR_', '')}`)
      .join(', ')}`,
  ].join('\n');
}

/** Global options parsed leniently; everything after the command's words is left to the command. */
function passthrough(argv: string[], command: CliCommand, loose: Record<string, unknown>): ReturnType<typeof parseFor> {
  const at = argv.indexOf(command.words[command.words.length - 1]!);
  const g = parseFor(
    { ...command, options: {} },
    argv.slice(0, at).filter((a) => !command.words.includes(a)),
  ).global;
  return { positionals: argv.slice(at + 1), values: {}, global: { ...g, help: false, json: g.json || loose.json === true } };
}

/** Removes the command's words (in order) from the positionals. */
function dropWords(positionals: string[], words: string[]): string[] {
  const rest = [...positionals];
  for (const w of words) rest.splice(rest.indexOf(w), 1);
  return rest;
}

export async function run(argv: string[], io: Io, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<number> {
  // First pass, lenient: which command? (Its own options are unknown until then.)
  const loose = parseArgs({ args: argv, options: GLOBAL_OPTIONS, allowPositionals: true, strict: false });
  const found = findCommand(loose.positionals);
  if (!found) {
    if (loose.values.help) {
      io.out(usage());
      return 0;
    }
    if (loose.positionals.length === 0) {
      io.err(usage());
      return EXIT_USAGE;
    }
    io.err(`vpnsvc: unknown command "${loose.positionals.join(' ')}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const { command } = found;
  try {
    const parsed = command.passthrough ? passthrough(argv, command, loose.values) : parseFor(command, argv);
    if (!command.passthrough) parsed.positionals = dropWords(parsed.positionals, command.words);
    if (parsed.global.help) {
      const opts = Object.keys(command.options ?? {})
        .map((o) => `--${o}`)
        .join(' ');
      io.out(
        `vpnsvc ${command.words.join(' ')}${command.args ? ` ${command.args}` : ''}${opts ? ` [${opts}]` : ''}\n  ${command.summary}${command.operations ? `\n  REST: ${command.operations.join(', ')}` : ''}`,
      );
      return 0;
    }
    let endpoint: Endpoint | undefined;
    const ctx: CliContext = {
      endpoint: () => (endpoint ??= resolveEndpoint(parsed.global, env)),
      json: parsed.global.json ?? false,
      io,
      env,
      signal,
    };
    return (await command.run(ctx, parsed)) ?? 0;
  } catch (err) {
    if (err instanceof ServiceError) {
      if (argv.includes('--json'))
        io.out(JSON.stringify({ error: err.errorName, code: err.code, message: err.message, status: err.status }));
      io.err(`vpnsvc: ${err.errorName}: ${err.message}`);
      return EXIT_CODES[err.errorName] ?? 1;
    }
    if (err instanceof ConnectError) {
      io.err(`vpnsvc: ${err.message}`);
      return EXIT_UNREACHABLE;
    }
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`vpnsvc: ${(err as Error).message}`);
      return EXIT_USAGE;
    }
    io.err(`vpnsvc: ${(err as Error).stack ?? String(err)}`);
    return 1;
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
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  const code = await run(process.argv.slice(2), processIo(), process.env, ac.signal);
  // exitCode, not exit(): stdout to a pipe drains first.
  process.exitCode = code;
}
