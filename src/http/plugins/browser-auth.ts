/**
 * Browser authentication beside the Bearer header: a login with a token gives an HttpOnly,
 * SameSite=Strict session cookie (Secure under TLS) that stands for the token (see
 * src/tokens/browser-sessions.ts). A request authenticated by the cookie must come from the
 * daemon's own origin or an allowed one: a state-changing request or a WebSocket upgrade without
 * Origin, or any with another Origin, is refused (CSRF, cross-site WebSocket hijacking; a page on
 * another port of the same host is same-site and would get the cookie). When a session ends, the
 * connections that used it are closed, so an open follower or packet stream ends with it. CORS
 * is served only for the configured origins. The console and /docs get their security headers here.
 */
import type { Socket } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { permissionDenied } from '../../errors/errors.js';
import { type BrowserSession, BrowserSessions, type SessionLimits } from '../../tokens/browser-sessions.js';
import type { TokenEntry, TokenStore } from '../../tokens/token-store.js';

export const SESSION_COOKIE = 'vpnsvc_session';
const SWEEP_MS = 1000;

/**
 * The console's and /docs' policy: scripts, styles and connections to this origin only (the
 * bundle has no inline script), no framing, no plugins.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * /docs: the same, and the one <style> element Swagger UI's bundle inserts, allowed by its hash
 * (a Swagger UI upgrade that changes it shows as a CSP violation in the browser tests).
 */
export const DOCS_CSP = CONSOLE_CSP.replace("style-src 'self'", "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='");

export interface BrowserAuthOptions {
  tokens: TokenStore;
  sessions: SessionLimits;
  /** Origins besides the daemon's own whose pages may call the API (CORS and the Origin check). */
  corsOrigins: readonly string[];
  /** Cookies get Secure: the daemon serves HTTPS. */
  secure: boolean;
}

export interface BrowserAuth {
  readonly sessions: BrowserSessions;
  readonly secure: boolean;
  /** The token's entry for a login, undefined when the token is not known. */
  verify(token: string): TokenEntry | undefined;
  /** Whether a browser request may use the cookie: its Origin is ours or allowed (see the header). */
  originAllowed(request: FastifyRequest): boolean;
  /** Whether a request that carries no credential yet (login, logout) comes from no foreign page: its Origin, if any, is ours or allowed. */
  pageAllowed(request: FastifyRequest): boolean;
  /** The request's session, authenticated by cookie; undefined when it has none or it ended. */
  use(request: FastifyRequest): { session: BrowserSession; entry: TokenEntry } | undefined;
  /** Logout: ends the request's session and closes its other connections. */
  logout(request: FastifyRequest): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    browserAuth: BrowserAuth;
  }
  interface FastifyRequest {
    browserSession?: BrowserSession;
  }
}

/** The origin a same-origin page of this daemon sends: the scheme it was reached by and its Host. */
function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

function isSafe(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && !request.ws;
}

async function browserAuthPlugin(app: FastifyInstance, options: BrowserAuthOptions): Promise<void> {
  const allowed = new Set(options.corsOrigins);
  const sessions = new BrowserSessions(options.sessions, options.tokens);
  /** The connections each session authenticated: closed when it ends. */
  const held = new Map<string, { session: BrowserSession; sockets: Set<Socket> }>();

  const attach = (session: BrowserSession, socket: Socket) => {
    let entry = held.get(session.key);
    if (!entry) {
      entry = { session, sockets: new Set() };
      held.set(session.key, entry);
    }
    const { sockets } = entry;
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && held.get(session.key)?.sockets === sockets) held.delete(session.key);
    });
  };
  sessions.onEnd((session, why) => {
    const sockets = held.get(session.key)?.sockets ?? new Set();
    held.delete(session.key);
    for (const socket of sockets) socket.destroy();
    app.log.info({ token: session.tokenId, why, closedConnections: sockets.size }, 'browser session ended');
  });

  const originAllowed = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined) return isSafe(request);
    return origin === ownOrigin(request) || allowed.has(origin);
  };

  const auth: BrowserAuth = {
    sessions,
    secure: options.secure,
    verify: (token) => options.tokens.verify(token),
    originAllowed,
    pageAllowed: (request) => request.headers.origin === undefined || originAllowed(request),
    use: (request) => {
      const secret = request.cookies[SESSION_COOKIE];
      if (!secret) return undefined;
      const used = sessions.use(secret);
      if (used) attach(used.session, request.raw.socket);
      return used;
    },
    logout: (request) => {
      const secret = request.cookies[SESSION_COOKIE];
      if (!secret) return;
      // The logout's own connection answers it; the browser reuses it without the cookie.
      const used = sessions.use(secret);
      if (used) held.get(used.session.key)?.sockets.delete(request.raw.socket);
      sessions.logout(secret);
    },
  };
  app.decorate('browserAuth', auth);
  await app.register(fastifyCookie);

  // A session with an open connection (a follower, a stream, a page loading) is in use.
  const sweep = setInterval(() => {
    for (const { session } of held.values()) sessions.touch(session);
    sessions.sweep();
  }, SWEEP_MS);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    sessions.clear();
  });

  if (allowed.size > 0) {
    await app.register(fastifyCors, {
      origin: [...allowed],
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'last-event-id'],
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
      strictPreflight: false,
    });
  }

  app.addHook('onSend', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const docs = path === '/docs' || path.startsWith('/docs/');
    if (docs || path === '/' || path === '/ui' || path.startsWith('/ui/')) {
      reply.header('content-security-policy', docs ? DOCS_CSP : CONSOLE_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      reply.header('cross-origin-opener-policy', 'same-origin');
    }
  });
}

/**
 * Refuses a cookie-authenticated request from a foreign origin, with the standard body; with
 * `page`, a login or logout, which a script may send without Origin, only one from a foreign page.
 */
export function refuseForeignOrigin(request: FastifyRequest, { page = false } = {}): void {
  const auth = request.server.browserAuth;
  if (!(page ? auth.pageAllowed(request) : auth.originAllowed(request))) {
    throw permissionDenied(
      "a browser request with the session cookie must come from the daemon's own origin or one in VPNSVC_CORS_ORIGINS, with an Origin header",
    );
  }
}

export default fp(browserAuthPlugin, { name: 'browser-auth', fastify: '5.x' });
