/**
 * Bearer tokens and their privileges, kept as sha256 hashes in $VPNSVC_STATE_DIR/tokens.json.
 * The seed's privileges are http://tizen.org/privilege/vpnservice and .../internet; `protect` is
 * vpnsvc's own: vpnsvc_protect over TCP, where the daemon cannot see who the caller is.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../system/atomic-file.js';

export const PRIVILEGES = ['vpnservice', 'internet', 'protect'] as const;
export type Privilege = (typeof PRIVILEGES)[number];
/**
 * What the admin token carries (generated on first start, or from VPNSVC_ADMIN_TOKEN_FILE):
 * the seed's privileges, not `protect`, which reaches into other processes and is given only
 * on purpose (`vpnsvc token add … --privileges vpnservice,internet,protect`).
 */
export const ADMIN_PRIVILEGES: readonly Privilege[] = ['vpnservice', 'internet'];

export interface TokenEntry {
  id: string;
  sha256: string;
  privileges: Privilege[];
}

export interface TokenFile {
  tokens: TokenEntry[];
}

export const TOKENS_FILE = 'tokens.json';
export const ADMIN_TOKEN_FILE = 'admin.token';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function checkTokenFile(data: unknown, path: string): TokenFile {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (typeof data !== 'object' || data === null || !Array.isArray((data as TokenFile).tokens)) {
    return fail('expected {"tokens": [...]}');
  }
  for (const [i, t] of (data as TokenFile).tokens.entries()) {
    if (typeof t.id !== 'string' || t.id.length === 0) fail(`tokens[${i}].id must be a non-empty string`);
    if (typeof t.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(t.sha256)) fail(`tokens[${i}].sha256 must be 64 hex digits`);
    if (!Array.isArray(t.privileges) || !t.privileges.every((p) => (PRIVILEGES as readonly string[]).includes(p))) {
      fail(`tokens[${i}].privileges must list only ${PRIVILEGES.join(', ')}`);
    }
  }
  return data as TokenFile;
}

/** Secrets and their hashes: root only, and replaced whole so a reader never sees half a file. */
function writePrivate(path: string, content: string): void {
  writeFileAtomic(path, content, { mode: 0o600 });
}

export function writeTokenFile(path: string, file: TokenFile): void {
  writePrivate(path, `${JSON.stringify(file, null, 2)}\n`);
}

export class TokenStore {
  private constructor(private entries: TokenEntry[]) {}

  /**
   * Re-reads the state directory's token file (after `vpnsvc token add/del`, or a rotated
   * admin token). A file that does not parse throws, and the tokens in force stay.
   */
  reload(stateDir: string): number {
    const path = join(stateDir, TOKENS_FILE);
    const file = checkTokenFile(JSON.parse(readFileSync(path, 'utf8')), path);
    this.entries = file.tokens.map((e) => ({ ...e, privileges: [...e.privileges] }));
    return this.entries.length;
  }

  static fromEntries(entries: TokenEntry[]): TokenStore {
    return new TokenStore(entries.map((e) => ({ ...e, privileges: [...e.privileges] })));
  }

  /**
   * Loads the state directory's token file. On first start, when there is none, generates an
   * admin token with ADMIN_PRIVILEGES into admin.token (mode 0600) and reports its path.
   */
  static openStateDir(stateDir: string): { store: TokenStore; createdAdminToken: string | undefined } {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, TOKENS_FILE);
    if (!existsSync(path)) {
      const token = newToken();
      const adminPath = join(stateDir, ADMIN_TOKEN_FILE);
      writePrivate(adminPath, `${token}\n`);
      const file: TokenFile = { tokens: [{ id: 'admin', sha256: hashToken(token), privileges: [...ADMIN_PRIVILEGES] }] };
      writeTokenFile(path, file);
      return { store: new TokenStore(file.tokens), createdAdminToken: adminPath };
    }
    const file = checkTokenFile(JSON.parse(readFileSync(path, 'utf8')), path);
    return { store: new TokenStore(file.tokens), createdAdminToken: undefined };
  }

  /** The entry of that hash as it now stands (a browser session asks whether its token is still there). */
  byHash(sha256: string): TokenEntry | undefined {
    return this.entries.find((e) => e.sha256 === sha256);
  }

  /**
   * The entry whose hash matches, compared in constant time against every entry so the time
   * taken says nothing about which token, or how much of one, matched.
   */
  verify(token: string): TokenEntry | undefined {
    const presented = Buffer.from(hashToken(token), 'hex');
    let found: TokenEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, Buffer.from(entry.sha256, 'hex')) && !found) found = entry;
    }
    return found;
  }
}

/** Adds a token to a state directory's file; returns the new secret (shown once). */
export function addToken(stateDir: string, id: string, privileges: Privilege[]): string {
  const path = join(stateDir, TOKENS_FILE);
  const file = checkTokenFile(JSON.parse(readFileSync(path, 'utf8')), path);
  if (file.tokens.some((t) => t.id === id)) throw new Error(`a token with id "${id}" already exists in ${path}`);
  const token = newToken();
  file.tokens.push({ id, sha256: hashToken(token), privileges });
  writeTokenFile(path, file);
  return token;
}

/** Revokes the token `id` in a state directory's file; false when there is none of that id. */
export function removeToken(stateDir: string, id: string): boolean {
  const path = join(stateDir, TOKENS_FILE);
  const file = checkTokenFile(JSON.parse(readFileSync(path, 'utf8')), path);
  const kept = file.tokens.filter((t) => t.id !== id);
  if (kept.length === file.tokens.length) return false;
  writeTokenFile(path, { ...file, tokens: kept });
  return true;
}
