/**
 * VPNSVC_ADMIN_TOKEN_FILE: an admin token provided from outside (a Kubernetes Secret, a
 * credentials file) instead of one generated on first start. Installed into tokens.json as the
 * entry "admin" with ADMIN_PRIVILEGES, replacing an older admin entry; other tokens stay.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PRIVILEGES, hashToken, TOKENS_FILE, type TokenFile, writeTokenFile } from './token-store.js';

/** Shorter secrets are refused: a token is the only thing between the network and root's network. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Returns what changed, for the log (never the token). */
export function installAdminToken(stateDir: string, tokenFile: string): 'created' | 'replaced' | 'unchanged' {
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`VPNSVC_ADMIN_TOKEN_FILE: cannot read ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (token.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(
      `VPNSVC_ADMIN_TOKEN_FILE: ${tokenFile} must hold one token of at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces`,
    );
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, TOKENS_FILE);
  const file: TokenFile = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TokenFile) : { tokens: [] };
  const entry = { id: 'admin', sha256: hashToken(token), privileges: [...ADMIN_PRIVILEGES] };
  const old = file.tokens.find((t) => t.id === 'admin');
  if (old && old.sha256 === entry.sha256 && ADMIN_PRIVILEGES.every((p) => old.privileges.includes(p))) return 'unchanged';
  const tokens = [entry, ...file.tokens.filter((t) => t.id !== 'admin')];
  writeTokenFile(path, { ...file, tokens });
  return old ? 'replaced' : 'created';
}
