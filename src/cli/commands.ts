/**
 * Every CLI command, registered here in the order help lists them. A group of commands is one
 * module under src/cli/commands/ exporting a CliCommand list; adding a group is one import and
 * one spread below.
 */
import type { CliCommand } from './command.js';
import { completionCommands } from './commands/completion.js';
import { dnsCommands } from './commands/dns.js';
import { eventCommands } from './commands/events.js';
import { firewallCommands } from './commands/firewall.js';
import { hostCommands } from './commands/host.js';
import { interfaceCommands } from './commands/interfaces.js';
import { packetCommands } from './commands/packets.js';
import { routeCommands } from './commands/routes.js';
import { tokenCommands } from './commands/tokens.js';

export const COMMANDS: CliCommand[] = [
  ...interfaceCommands,
  ...hostCommands,
  ...routeCommands,
  ...dnsCommands,
  ...firewallCommands,
  ...eventCommands,
  ...packetCommands,
  ...tokenCommands,
  ...completionCommands,
];

/** The longest run of words that names a command. */
export function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.words.length) };
}
