/**
 * Browser sessions: a login with a token gives a random session secret (the cookie's value),
 * which stands for that token until logout, an idle or absolute limit, or the token's removal
 * or rotation (tokens.json no longer has its hash). Only the secret's hash is kept, in memory:
 * sessions end with the daemon. Their number is bounded; the least recently used goes first.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TokenEntry } from './token-store.js';

export interface SessionLimits {
  /** A session not used for this long ends. */
  idleMs: number;
  /** A session ends this long after its login, used or not. */
  maxAgeMs: number;
  /** At most this many at once. */
  max: number;
}

export interface BrowserSession {
  /** sha256 of the secret, hex: the map key, never sent anywhere. */
  readonly key: string;
  readonly tokenId: string;
  readonly tokenHash: string;
  readonly createdAt: number;
  lastUsedAt: number;
}

export type EndReason = 'logout' | 'idle' | 'expired' | 'token removed' | 'evicted';

/** What the store needs of the token store: the entry of a hash as it stands now. */
export interface TokenLookup {
  byHash(sha256: string): TokenEntry | undefined;
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export class BrowserSessions {
  /** In insertion order refreshed at each use, so the first is the least recently used. */
  private readonly sessions = new Map<string, BrowserSession>();
  private readonly listeners: ((session: BrowserSession, why: EndReason) => void)[] = [];

  constructor(
    readonly limits: SessionLimits,
    private readonly tokens: TokenLookup,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Called for every session that ends, whatever the reason (the HTTP layer closes its connections). */
  onEnd(listener: (session: BrowserSession, why: EndReason) => void): void {
    this.listeners.push(listener);
  }

  /** A new session for a verified token; returns the secret for the cookie. */
  create(entry: TokenEntry): { secret: string; session: BrowserSession } {
    this.sweep();
    while (this.sessions.size >= this.limits.max) {
      const oldest = this.sessions.values().next().value;
      if (!oldest) break;
      this.end(oldest, 'evicted');
    }
    const secret = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: BrowserSession = { key: hashSecret(secret), tokenId: entry.id, tokenHash: entry.sha256, createdAt: t, lastUsedAt: t };
    this.sessions.set(session.key, session);
    return { secret, session };
  }

  /**
   * The session of a secret and its token's entry as it now stands (privileges changed in
   * tokens.json apply at once), and marks it used; undefined when it has ended.
   */
  use(secret: string): { session: BrowserSession; entry: TokenEntry } | undefined {
    const session = this.sessions.get(hashSecret(secret));
    if (!session) return undefined;
    const entry = this.check(session);
    if (!entry) return undefined;
    session.lastUsedAt = this.now();
    this.sessions.delete(session.key);
    this.sessions.set(session.key, session);
    return { session, entry };
  }

  /** Logout: true when the secret had a live session. */
  logout(secret: string): boolean {
    const session = this.sessions.get(hashSecret(secret));
    if (!session) return false;
    this.end(session, 'logout');
    return true;
  }

  /** The time the session ends unless it is used again (idle) and at the latest (absolute). */
  expiry(session: BrowserSession): { idleExpiresAt: number; expiresAt: number } {
    const expiresAt = session.createdAt + this.limits.maxAgeMs;
    return { idleExpiresAt: Math.min(session.lastUsedAt + this.limits.idleMs, expiresAt), expiresAt };
  }

  /** Marks a session used without a request: it holds a live follower or stream. */
  touch(session: BrowserSession): void {
    if (this.sessions.get(session.key) === session) session.lastUsedAt = this.now();
  }

  /** Ends every session past a limit or whose token is gone; run on a timer and at each login. */
  sweep(): void {
    for (const session of [...this.sessions.values()]) this.check(session);
  }

  /** Ends them all (the daemon stops). */
  clear(): void {
    for (const session of [...this.sessions.values()]) this.end(session, 'logout');
  }

  private check(session: BrowserSession): TokenEntry | undefined {
    const t = this.now();
    const { idleExpiresAt, expiresAt } = this.expiry(session);
    if (t >= expiresAt) return this.end(session, 'expired');
    if (t >= idleExpiresAt) return this.end(session, 'idle');
    const entry = this.tokens.byHash(session.tokenHash);
    if (!entry || entry.id !== session.tokenId) return this.end(session, 'token removed');
    return entry;
  }

  private end(session: BrowserSession, why: EndReason): undefined {
    if (!this.sessions.delete(session.key)) return undefined;
    for (const listener of this.listeners) listener(session, why);
    return undefined;
  }
}
