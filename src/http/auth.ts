/** Bearer tokens with the seed's privileges (vpnservice, internet). */
import type { onRequestHookHandler } from 'fastify';
import { permissionDenied } from '../errors/errors.js';
import type { Privilege, TokenEntry, TokenStore } from '../tokens/token-store.js';
import { Unauthenticated } from './error-handler.js';

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenEntry;
  }
}

export function requirePrivileges(store: TokenStore, needed: Privilege[]): onRequestHookHandler {
  return async (request) => {
    const header = request.headers.authorization;
    if (!header) throw new Unauthenticated('no credentials: send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1]) throw new Unauthenticated('malformed Authorization header: expected "Bearer <token>"');
    const entry = store.verify(m[1]);
    if (!entry) throw new Unauthenticated('unknown token');
    const missing = needed.filter((p) => !entry.privileges.includes(p));
    if (missing.length > 0) {
      throw permissionDenied(
        `token "${entry.id}" lacks the privilege${missing.length > 1 ? 's' : ''} ${missing
          .map((p) => `http://tizen.org/privilege/${p}`)
          .join(' and ')}`,
      );
    }
    request.token = entry;
  };
}
