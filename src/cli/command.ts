/**
 * What a CLI command is. Each group of commands is a module under src/cli/commands/ exporting a
 * list of these; src/cli/commands.ts registers every group in one place, and src/cli/program.ts
 * turns them into the commander program (help, completion and the man page come from there).
 */
import type { Endpoint } from './client.js';

export interface CliOption {
  type: 'string' | 'boolean';
  short?: string;
  /** Repeatable: every value is kept, in order. */
  multiple?: boolean;
  /** What the value is, as help shows it: `<bytes>`. */
  value?: string;
  description?: string;
}

export type OptionSpec = Record<string, CliOption>;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Raw bytes to stdout (packets). */
  write(bytes: Buffer): void;
  stdin(): Promise<Buffer>;
  isTTY: boolean;
}

export interface CliContext {
  endpoint: () => Endpoint;
  json: boolean;
  io: Io;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C / SIGTERM: long-running commands stop cleanly. */
  signal: AbortSignal;
}

export interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

export interface CliCommand {
  /** The words that select the command: ['route', 'add']. */
  words: string[];
  /** Positional arguments as shown in help: '<address/prefix>...'. */
  args?: string;
  summary: string;
  options?: OptionSpec;
  /** The REST operation it drives (METHOD /path), for the coverage check and help. */
  operations?: string[];
  /** Gets its arguments unparsed in `positionals` (it parses them itself, e.g. a lazily loaded module). */
  passthrough?: boolean;
  /** Returns the exit code (0 when omitted). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that only succeeds returns nothing
  run(ctx: CliContext, parsed: Parsed): Promise<number | void>;
}
