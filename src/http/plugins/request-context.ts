/**
 * What every request carries: its id (a caller's X-Request-Id when sane, else a UUID, echoed in
 * the response), and the reason given to the engine's events while its handler runs (the token
 * and the request id). At shutdown every WebSocket closes with 1001 "going away".
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { EventReason } from '../../engine/events.js';
import { withReason } from '../../engine/events.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A caller's id is kept only when it is this tame: it ends up in logs and events. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Fastify options: a caller's X-Request-Id is used when sane, else a fresh UUID. */
export const requestIdOptions: Pick<FastifyServerOptions, 'genReqId' | 'requestIdHeader'> = {
  requestIdHeader: false,
  genReqId: (req) => {
    const given = req.headers[REQUEST_ID_HEADER];
    return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
  },
};

/** Who caused what a request changes: the API, its token, its id. */
export function apiReason(request: FastifyRequest): EventReason {
  return { source: 'api', ...(request.token && { token: request.token.id }), requestId: request.id };
}

async function requestContextPlugin(app: FastifyInstance): Promise<void> {
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  // Runs the handler inside the request's reason, so events it causes name the token and request.
  app.addHook('preHandler', (request, _reply, done) => {
    withReason(apiReason(request), done);
  });
  // After the event followers (synchronous listeners) have sent daemon.stopping on theirs.
  const unsubscribe = app.vpnsvc.events.subscribe((e) => {
    if (e.type !== 'daemon.stopping' || !app.websocketServer) return;
    setImmediate(() => {
      for (const client of app.websocketServer.clients) client.close(1001, 'vpnsvc is shutting down');
    });
  });
  app.addHook('onClose', async () => unsubscribe());
}

export default fp(requestContextPlugin, { name: 'request-context', fastify: '5.x', dependencies: ['vpnsvc', '@fastify/websocket'] });
