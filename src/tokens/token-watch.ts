/**
 * Token changes take effect without a restart: tokens.json (written by `vpnsvc token add/del`)
 * and the admin token file (a Kubernetes Secret, which the kubelet swaps in place) are polled,
 * and the daemon's token store reloads when either changes.
 */
import { type Stats, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { installAdminToken } from './admin-token.js';
import { TOKENS_FILE, type TokenStore } from './token-store.js';

export const TOKEN_POLL_MS = 1000;

export interface TokenWatchLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function watchTokens(
  stateDir: string,
  store: TokenStore,
  log: TokenWatchLogger,
  adminTokenFile?: string,
  intervalMs = TOKEN_POLL_MS,
): () => void {
  const tokensPath = join(stateDir, TOKENS_FILE);
  const changed = (cur: Stats, prev: Stats) => cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size;
  const reload = (why: string) => {
    try {
      log.info({ tokens: store.reload(stateDir), why }, 'tokens reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'tokens.json does not parse: the tokens in force stay');
    }
  };
  const onTokens = (cur: Stats, prev: Stats) => {
    if (changed(cur, prev)) reload(TOKENS_FILE);
  };
  const onAdmin = (cur: Stats, prev: Stats) => {
    if (!adminTokenFile || !changed(cur, prev)) return;
    try {
      // Rewrites tokens.json, which the other watcher would notice a poll later; reload now.
      if (installAdminToken(stateDir, adminTokenFile) !== 'unchanged') reload('VPNSVC_ADMIN_TOKEN_FILE');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'the admin token file changed but cannot be installed: the tokens in force stay');
    }
  };
  const opts = { interval: intervalMs, persistent: false };
  watchFile(tokensPath, opts, onTokens);
  if (adminTokenFile) watchFile(adminTokenFile, opts, onAdmin);
  return () => {
    unwatchFile(tokensPath, onTokens);
    if (adminTokenFile) unwatchFile(adminTokenFile, onAdmin);
  };
}
