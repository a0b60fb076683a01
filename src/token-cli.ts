#!/usr/bin/env node
/**
 * vpnsvc-token: adds a bearer token to the daemon's state directory and prints it once.
 *   vpnsvc-token add <id> <privilege>[,<privilege>]
 * Privileges are the seed's: vpnservice, internet. The running daemon reads tokens at start.
 */
import { DEFAULT_STATE_DIR } from './config.js';
import { PRIVILEGES, TokenStore, addToken, type Privilege } from './tokens.js';

function usage(): never {
  process.stderr.write(`usage: vpnsvc-token add <id> <privileges>   (privileges: ${PRIVILEGES.join(',')}, comma-separated)\n`);
  process.exit(2);
}

const [command, id, list] = process.argv.slice(2);
if (command !== 'add' || !id || !list) usage();
const privileges = list.split(',').filter(Boolean);
const unknown = privileges.filter((p) => !(PRIVILEGES as readonly string[]).includes(p));
if (unknown.length > 0 || privileges.length === 0) {
  process.stderr.write(`vpnsvc-token: unknown privilege ${unknown.join(', ') || '(none given)'}\n`);
  usage();
}
const stateDir = process.env.VPNSVC_STATE_DIR ?? DEFAULT_STATE_DIR;
try {
  TokenStore.openStateDir(stateDir);
  process.stdout.write(`${addToken(stateDir, id, privileges as Privilege[])}\n`);
  process.stderr.write(`added token "${id}" (${privileges.join(', ')}) to ${stateDir}/tokens.json; restart the daemon to load it\n`);
} catch (err) {
  process.stderr.write(`vpnsvc-token: ${(err as Error).message}\n`);
  process.exit(1);
}
