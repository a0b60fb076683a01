/**
 * Every CLI command, registered here in the order help lists them. A group of commands is one
 * module under src/cli/commands/ exporting a CliCommand list; adding a group is one import and
 * one spread below.
 */

import { UsageError } from './client.js';
import type { CliCommand } from './command.js';
import { bashCompletion, zshCompletion } from './commands/completion.js';
import { dnsCommands } from './commands/dns.js';
import { eventCommands } from './commands/events.js';
import { firewallCommands } from './commands/firewall.js';
import { hostCommands } from './commands/host.js';
import { interfaceCommands } from './commands/interfaces.js';
import { packetCommands } from './commands/packets.js';
import { profileCommands } from './commands/profiles.js';
import { routeCommands } from './commands/routes.js';
import { splitCommands } from './commands/split.js';
import { tokenCommands } from './commands/tokens.js';

/**
 * Operations with no CLI form, and why: each is for a client other than a command line.
 */
export const WITHOUT_CLI: Record<string, string> = {
  'POST /auth/login': 'a browser exchanges a token for a session cookie; the CLI sends its token on every request',
  'POST /auth/logout': 'ends a browser session; the CLI has none',
  'POST /tickets': 'the ticket is redeemed on the fd channel by the process that asked for it (libcapi-vpnsvc does both)',
};

export const COMMANDS: CliCommand[] = [
  ...interfaceCommands,
  ...hostCommands,
  ...routeCommands,
  ...dnsCommands,
  ...firewallCommands,
  ...eventCommands,
  ...packetCommands,
  ...profileCommands,
  ...tokenCommands,
  ...splitCommands,
  {
    words: ['completion'],
    args: '<bash|zsh>',
    summary: 'print a shell completion script (eval "$(vpnsvc completion bash)")',
    async run(ctx, p) {
      const shell = p.positionals[0];
      if (p.positionals.length !== 1 || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError('usage: vpnsvc completion bash|zsh');
      ctx.io.out(shell === 'bash' ? bashCompletion(COMMANDS) : zshCompletion(COMMANDS));
    },
  },
];

/** The longest run of words that names a command. */
export function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.words.length) };
}
