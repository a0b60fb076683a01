/**
 * The commander program built from the command table: words become nested commands, each
 * option shows the value it takes, unknown words get "did you mean", and --help, --version,
 * completion and the man page all read the same tree.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_URL } from './client.js';
import type { CliCommand, CliOption, OptionSpec, Parsed } from './command.js';

/** Options every command takes: where the daemon is and how to prove who is asking. */
export const GLOBAL_OPTIONS: OptionSpec = {
  url: {
    type: 'string',
    short: 'u',
    value: '<url>',
    description: `the daemon: http(s)://host:port or unix:/path (default: $VPNSVC_URL, else $VPNSVC_LISTEN, else ${DEFAULT_URL})`,
  },
  token: { type: 'string', value: '<token>', description: 'a bearer token (visible in ps: prefer --token-file or $VPNSVC_TOKEN)' },
  'token-file': { type: 'string', value: '<file>', description: 'a file holding the token (default: $VPNSVC_STATE_DIR/admin.token)' },
  ca: { type: 'string', value: '<file>', description: "a PEM CA for the daemon's TLS certificate (default: $VPNSVC_CA)" },
  json: { type: 'boolean', description: 'print what the service returned, as JSON' },
};

export interface Invocation {
  command: CliCommand;
  parsed: Parsed;
  global: { url?: string; token?: string; tokenFile?: string; ca?: string; json: boolean };
}

function toOption(name: string, o: CliOption): Option {
  const flags = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
  const opt = new Option(flags, o.description ?? '');
  if (o.multiple) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  return opt;
}

/** Commander's value of an option, back under its own name; `--no-x` is true when given. */
function optionValue(opts: Record<string, unknown>, name: string, option: Option): string | boolean | string[] | undefined {
  const v = opts[option.attributeName()];
  if (name.startsWith('no-')) return v === false ? true : undefined;
  return v as string | boolean | string[] | undefined;
}

/** Edit distance, for "did you mean" among a group's own commands. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

export class GroupUsage extends Error {}

export function suggest(word: string, names: string[]): string {
  const near = names.filter((n) => distance(word, n) <= Math.max(1, Math.floor(n.length / 3)) || n.startsWith(word));
  return near.length ? ` (did you mean ${near.join(', ')}?)` : '';
}

function addOptions(cmd: Command, spec: OptionSpec): Map<string, Option> {
  const made = new Map<string, Option>();
  for (const [name, o] of Object.entries(spec)) {
    const opt = toOption(name, o);
    cmd.addOption(opt);
    made.set(name, opt);
  }
  return made;
}

/**
 * The program. `onRun` receives the chosen command with its parsed arguments; parse errors,
 * --help and --version surface as CommanderError (exitOverride) for the caller to map.
 */
export function buildProgram(
  commands: CliCommand[],
  version: string,
  out: { out(text: string): void; err(text: string): void },
  onRun: (inv: Invocation) => void,
): Command {
  const program = new Command('vpnsvc')
    .description('the command-line client of the vpnsvc daemon (Tizen VPN Service API)')
    .version(`vpnsvc ${version}`, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for vpnsvc or a command')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.out(s.replace(/\n$/, '')),
      writeErr: (s) => out.err(s.replace(/\n$/, '')),
      // Commander's own errors: one line, in the CLI's words.
      outputError: (s, write) =>
        write(
          `vpnsvc: ${s
            .replace(/^error: /, '')
            .replace(/\n\(/g, ' (')
            .trim()} (vpnsvc --help)\n`,
        ),
    });
  const argsOf = new WeakMap<Command, string>();
  const subcommandTerm = (cmd: Command) => `${cmd.name()}${argsOf.has(cmd) ? ` ${argsOf.get(cmd)}` : ''}`;
  program.configureHelp({ subcommandTerm });
  const globals = addOptions(program, GLOBAL_OPTIONS);
  program.addHelpText('after', () => `\n${commandList(commands)}\n\n${EPILOG}`);

  const groups = new Map<string, Command>([['', program]]);
  const groupOf = (words: string[]): Command => {
    const key = words.join(' ');
    const found = groups.get(key);
    if (found) return found;
    const parent = groupOf(words.slice(0, -1));
    const g = parent
      .command(words[words.length - 1]!)
      .description(`${key} commands`)
      .usage('<command> [options]')
      .argument('[command]')
      .allowExcessArguments(true)
      .action((sub: string | undefined) => {
        const names = g.commands.map((c) => c.name());
        throw new GroupUsage(
          sub === undefined
            ? `"vpnsvc ${key}" needs a command: ${names.join(', ')} (vpnsvc ${key} --help)`
            : `unknown command "vpnsvc ${key} ${sub}"${suggest(sub, names)} (vpnsvc ${key} --help)`,
        );
      });
    argsOf.set(g, '<command>');
    groups.set(key, g);
    return g;
  };

  // Longer word lists first would hide a command that is also a group ("session", "session set"):
  // commands are made in table order, and a group made earlier takes the command's action.
  for (const c of commands) {
    const parent = groupOf(c.words.slice(0, -1));
    const key = c.words.join(' ');
    let cmd = groups.get(key);
    if (!cmd) {
      cmd = parent.command(c.words[c.words.length - 1]!);
      groups.set(key, cmd);
    }
    cmd.description(c.summary).usage(`${c.args ? `${c.args} ` : ''}[options]`);
    argsOf.set(cmd, c.args ?? '');
    if (c.operations) cmd.addHelpText('after', `\nREST: ${c.operations.join(', ')}`);
    if (c.passthrough) {
      cmd.helpOption(false).allowUnknownOption().passThroughOptions().argument('[args...]');
      cmd.action((args: string[]) => onRun({ command: c, parsed: { positionals: args, values: {} }, global: { json: false } }));
      continue;
    }
    const own = addOptions(cmd, c.options ?? {});
    const leafGlobals = addOptions(cmd, GLOBAL_OPTIONS);
    cmd.argument('[args...]').allowExcessArguments(true);
    const leaf = cmd;
    leaf.action((args: string[]) => {
      const opts = leaf.opts() as Record<string, unknown>;
      const top = program.opts() as Record<string, unknown>;
      const values: Parsed['values'] = {};
      for (const [name, option] of own) {
        const v = optionValue(opts, name, option);
        if (v !== undefined) values[name] = v;
      }
      const g = (name: string) => {
        const v = optionValue(opts, name, leafGlobals.get(name)!) ?? optionValue(top, name, globals.get(name)!);
        return v === undefined ? undefined : String(v);
      };
      onRun({
        command: c,
        parsed: { positionals: args, values },
        global: {
          ...(g('url') !== undefined && { url: g('url')! }),
          ...(g('token') !== undefined && { token: g('token')! }),
          ...(g('token-file') !== undefined && { tokenFile: g('token-file')! }),
          ...(g('ca') !== undefined && { ca: g('ca')! }),
          json: g('json') === 'true',
        },
      });
    });
  }
  return program;
}

function commandList(commands: CliCommand[]): string {
  const rows = commands.map((c) => [`${c.words.join(' ')}${c.args ? ` ${c.args}` : ''}`, c.summary] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return ['Every command in full (vpnsvc COMMAND --help for its options):', ...rows.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`)].join(
    '\n',
  );
}

export const TOKEN_ORDER =
  '--token, --token-file, $VPNSVC_TOKEN, $VPNSVC_TOKEN_FILE, $VPNSVC_ADMIN_TOKEN_FILE, else $VPNSVC_STATE_DIR/admin.token';

/** Exit codes of the CLI other than the service's own (EXIT_CODES in main.ts). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, localFile: 4, bridge: 5, active: 6 } as const;

export const EPILOG = [
  `Token: ${TOKEN_ORDER}.`,
  `Exit: ${EXIT.ok} ok, ${EXIT.usage} usage, ${EXIT.unreachable} daemon unreachable, ${EXIT.localFile} a local file unreadable, ${EXIT.bridge} bridge failed, ${EXIT.active} up refused (a VPN is active), 10-17 the service's error (see man vpnsvc), ${EXIT.failed} other.`,
].join('\n');

export { CommanderError };
