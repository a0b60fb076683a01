#!/usr/bin/env node
/**
 * vpnsvc: the user-facing command. Each subcommand lives in its own file under src/cli/.
 *   vpnsvc bridge ...   connect a local TUN to a daemon's packet stream (src/cli/bridge.ts)
 */
import { bridgeMain } from './bridge.js';

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  bridge: bridgeMain,
};

const [sub, ...rest] = process.argv.slice(2);
const run = sub ? SUBCOMMANDS[sub] : undefined;
if (!run) {
  process.stderr.write(`usage: vpnsvc <command> [options]\ncommands: ${Object.keys(SUBCOMMANDS).join(', ')}\n`);
  process.exit(2);
}
run(rest).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vpnsvc ${sub}: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
