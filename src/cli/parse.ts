/** Argument parsing shared by the CLI's entry and lazily loaded commands. */
import { parseArgs } from 'node:util';
import type { EndpointFlags } from './client.js';
import type { CliCommand, Parsed } from './command.js';

export const GLOBAL_OPTIONS = {
  url: { type: 'string', short: 'u' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseFor(command: CliCommand, args: string[]): Parsed & { global: EndpointFlags & { json?: boolean; help?: boolean } } {
  const { values, positionals } = parseArgs({
    args,
    options: { ...GLOBAL_OPTIONS, ...command.options },
    allowPositionals: true,
    strict: true,
  });
  const v = values as Record<string, unknown>;
  return {
    positionals,
    values: values as Parsed['values'],
    global: {
      ...(v.url !== undefined && { url: String(v.url) }),
      ...(v.token !== undefined && { token: String(v.token) }),
      ...(v['token-file'] !== undefined && { tokenFile: String(v['token-file']) }),
      ...(v.ca !== undefined && { ca: String(v.ca) }),
      json: v.json === true,
      help: v.help === true,
    },
  };
}
