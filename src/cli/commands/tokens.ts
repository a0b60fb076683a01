/**
 * `vpnsvc token …`: `whoami` asks the daemon which token the CLI is using; the others manage the
 * daemon's token file in its state directory directly (root on the daemon's host), the way the
 * daemon's first start creates it. Secrets are printed once and
 * only their hashes are stored. The running daemon notices the change (src/token-watch.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_PRIVILEGES,
  addToken,
  PRIVILEGES,
  type Privilege,
  removeToken,
  TOKENS_FILE,
  type TokenFile,
} from '../../tokens/token-store.js';
import { DEFAULT_STATE_DIR, json, LocalFileError, send, UsageError } from '../client.js';
import type { CliCommand, OptionSpec, Parsed } from '../command.js';

const stateDirOption: OptionSpec = {
  'state-dir': {
    type: 'string',
    value: '<dir>',
    description: "the daemon's state directory (default: $VPNSVC_STATE_DIR, else /var/lib/vpnsvc)",
  },
};

function stateDir(p: Parsed, env: NodeJS.ProcessEnv): string {
  return (p.values['state-dir'] as string | undefined) ?? env.VPNSVC_STATE_DIR ?? DEFAULT_STATE_DIR;
}

function readTokens(dir: string): TokenFile {
  const path = join(dir, TOKENS_FILE);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TokenFile;
  } catch (err) {
    throw new LocalFileError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (is the daemon's state directory right? --state-dir)`,
    );
  }
}

/**
 * A comma-separated list of PRIVILEGES ("vpnservice,internet", the admin's, by default; add
 * "protect" for vpnsvc_protect over TCP), or "none" for a read-only token.
 */
function parsePrivileges(v: unknown): Privilege[] {
  if (v === 'none') return [];
  const names = String(v ?? ADMIN_PRIVILEGES.join(','))
    .split(',')
    .map((s) => s.trim().replace(/^http:\/\/tizen\.org\/privilege\//, ''))
    .filter(Boolean);
  const bad = names.filter((n) => !(PRIVILEGES as readonly string[]).includes(n));
  if (bad.length || names.length === 0)
    throw new UsageError(`--privileges: use ${PRIVILEGES.join(', ')} (comma-separated) or none; got "${v}"`);
  return [...new Set(names)] as Privilege[];
}

const whoami: CliCommand = {
  words: ['token', 'whoami'],
  summary: 'the token this CLI uses: its id and privileges, as the daemon sees them',
  operations: ['GET /auth/me'],
  async run(ctx, p) {
    if (p.positionals.length > 0) throw new UsageError('usage: vpnsvc token whoami');
    const me = json(await send(ctx.endpoint(), 'GET', '/auth/me')) as { tokenId: string; privileges: string[] };
    ctx.io.out(ctx.json ? JSON.stringify(me, null, 2) : `${me.tokenId}  ${me.privileges.join(',') || '(no privileges)'}`);
  },
};

export const tokenCommands: CliCommand[] = [
  whoami,
  {
    words: ['token', 'add'],
    args: '<id>',
    summary: 'create a token (--privileges vpnservice,internet[,protect] | any of them | none); prints the secret once',
    options: {
      ...stateDirOption,
      privileges: {
        type: 'string',
        value: '<list>',
        description: 'vpnservice,internet,protect (comma-separated), or none; default vpnservice,internet',
      },
    },
    async run(ctx, p) {
      const id = p.positionals[0];
      if (!id || p.positionals.length > 1 || !/^[A-Za-z0-9_.-]{1,64}$/.test(id))
        throw new UsageError('usage: vpnsvc token add <id> [--privileges vpnservice,internet,protect]  (id: 1-64 of A-Za-z0-9_.-)');
      const privileges = parsePrivileges(p.values.privileges);
      const dir = stateDir(p, ctx.env);
      readTokens(dir);
      let secret: string;
      try {
        secret = addToken(dir, id, privileges);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (ctx.json) ctx.io.out(JSON.stringify({ id, privileges, token: secret }));
      else {
        ctx.io.out(secret);
        ctx.io.err(
          `token "${id}" (${privileges.join(', ') || 'read only'}) added to ${join(dir, TOKENS_FILE)}; the secret above is shown only now; the daemon loads it within a second`,
        );
      }
    },
  },
  {
    words: ['token', 'list'],
    summary: 'token ids and their privileges (never the secrets)',
    options: stateDirOption,
    async run(ctx, p) {
      const file = readTokens(stateDir(p, ctx.env));
      const rows = file.tokens.map((t) => ({ id: t.id, privileges: t.privileges }));
      ctx.io.out(
        ctx.json
          ? JSON.stringify(rows, null, 2)
          : rows.map((r) => `${r.id.padEnd(20)} ${r.privileges.join(', ') || '(read only)'}`).join('\n'),
      );
    },
  },
  {
    words: ['token', 'del'],
    args: '<id>',
    summary: 'revoke a token (the daemon drops it within a second)',
    options: stateDirOption,
    async run(ctx, p) {
      const id = p.positionals[0];
      if (!id || p.positionals.length > 1) throw new UsageError('usage: vpnsvc token del <id>');
      const dir = stateDir(p, ctx.env);
      readTokens(dir);
      let removed: boolean;
      try {
        removed = removeToken(dir, id);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (!removed) throw new UsageError(`no token "${id}"`);
      if (!ctx.json) ctx.io.err(`token "${id}" revoked`);
    },
  },
];
