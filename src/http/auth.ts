/**
 * Bearer tokens with the seed's privileges (vpnservice, internet) and vpnsvc's own (protect);
 * a browser presents the same token through its session cookie (plugins/browser-auth.ts).
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ProtectCaller } from '../engine/vpnsvc.js';
import { permissionDenied } from '../errors/errors.js';
import type { Privilege, TokenEntry, TokenStore } from '../tokens/token-store.js';
import { Unauthenticated } from './error-handler.js';
import { refuseForeignOrigin, SESSION_COOKIE } from './plugins/browser-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenEntry;
    caller?: ProtectCaller;
  }
}

/**
 * Privileges a unix-socket peer does without: the engine checks the uid the kernel gives for it
 * against the target instead. Only a remote caller (TCP) needs them from its token.
 */
const PEER_CHECKED: readonly Privilege[] = ['protect'];

function privilegeName(p: Privilege): string {
  return PEER_CHECKED.includes(p) ? `${p} (vpnsvc's own, needed over TCP)` : `http://tizen.org/privilege/${p}`;
}

/**
 * The fd of the daemon's end of the request's connection. Node does not expose it: `_handle.fd`
 * is libuv's, on Linux, for a unix socket and for TLS over one alike (this is its one use).
 */
export function connectionFd(request: FastifyRequest): number | undefined {
  const fd = (request.socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Who is calling, for vpnsvc_protect: the kernel's word on a unix-socket peer, else remote. */
export function callerOf(request: FastifyRequest): ProtectCaller {
  request.caller ??= request.server.vpnsvc.callerOf(connectionFd(request));
  return request.caller;
}

function bearerEntry(store: TokenStore, header: string): TokenEntry {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new Unauthenticated('malformed Authorization header: expected "Bearer <token>"');
  const entry = store.verify(m[1]);
  if (!entry) throw new Unauthenticated('unknown token');
  return entry;
}

/** The token behind the request's session cookie; the Origin is checked before the session is looked at. */
function sessionEntry(request: FastifyRequest): TokenEntry {
  if (request.cookies[SESSION_COOKIE] === undefined) {
    throw new Unauthenticated('no credentials: send "Authorization: Bearer <token>", or sign in at /ui/');
  }
  refuseForeignOrigin(request);
  const used = request.server.browserAuth.use(request);
  if (!used) throw new Unauthenticated('the browser session has ended (logout, expiry or the token removed): sign in again');
  request.browserSession = used.session;
  return used.entry;
}

export function requirePrivileges(store: TokenStore, needed: Privilege[]): onRequestHookHandler {
  const peerChecked = needed.some((p) => PEER_CHECKED.includes(p));
  return async (request) => {
    const entry = request.headers.authorization === undefined ? sessionEntry(request) : bearerEntry(store, request.headers.authorization);
    // A valid token, even one lacking a privilege here, lifts the connection out of the bounds on unauthenticated ones.
    request.server.connectionLimits.authenticated(request.raw.socket);
    const required = peerChecked && 'uid' in callerOf(request) ? needed.filter((p) => !PEER_CHECKED.includes(p)) : needed;
    const missing = required.filter((p) => !entry.privileges.includes(p));
    if (missing.length > 0) {
      throw permissionDenied(
        `token "${entry.id}" lacks the privilege${missing.length > 1 ? 's' : ''} ${missing.map(privilegeName).join(' and ')}`,
      );
    }
    request.token = entry;
  };
}
