/** /auth: browser sign-in with a token, sign-out, and who the caller is (plugins/browser-auth.ts). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { components } from '../../generated/api.js';
import type { Handlers } from '../context.js';
import { Unauthenticated } from '../error-handler.js';
import { refuseForeignOrigin, SESSION_COOKIE } from '../plugins/browser-auth.js';

type AuthSession = components['schemas']['AuthSession'];

export function authHandlers({ browserAuth }: FastifyInstance): Pick<Handlers, 'login' | 'logout' | 'getAuth'> {
  const { sessions } = browserAuth;
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict', secure: browserAuth.secure } as const;
  const sessionView = (request: FastifyRequest, via: AuthSession['via']): AuthSession => {
    const token = request.token!;
    const view: AuthSession = { tokenId: token.id, privileges: [...token.privileges], via };
    if (via === 'bearer' || !request.browserSession) return view;
    const { idleExpiresAt, expiresAt } = sessions.expiry(request.browserSession);
    return { ...view, idleExpiresAt: new Date(idleExpiresAt).toISOString(), expiresAt: new Date(expiresAt).toISOString() };
  };
  const clearCookie = (reply: FastifyReply) => reply.clearCookie(SESSION_COOKIE, cookieOptions);
  return {
    login: (request, reply) => {
      refuseForeignOrigin(request, { page: true });
      const entry = browserAuth.verify(request.body.token);
      if (!entry) throw new Unauthenticated('the token is not known: check it and try again');
      request.server.connectionLimits.authenticated(request.raw.socket);
      const { secret, session } = sessions.create(entry);
      reply.setCookie(SESSION_COOKIE, secret, { ...cookieOptions, maxAge: Math.floor(sessions.limits.maxAgeMs / 1000) });
      request.token = entry;
      request.browserSession = session;
      return reply.code(200).send(sessionView(request, 'cookie'));
    },
    logout: (request, reply) => {
      refuseForeignOrigin(request, { page: true });
      browserAuth.logout(request);
      clearCookie(reply);
      return reply.code(204).send();
    },
    getAuth: (request) => sessionView(request, request.browserSession ? 'cookie' : 'bearer'),
  };
}
