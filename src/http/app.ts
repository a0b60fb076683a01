/**
 * Builds the HTTP app as a plugin-composed Fastify instance over a Vpnsvc facade; it never
 * listens (the daemon does). Routes come from openapi.yaml: each operation's path, method,
 * schemas and privileges.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import { withReason } from '../engine/events.js';
import type { TokenStore } from '../tokens/token-store.js';
import { requirePrivileges } from './auth.js';
import type { HostFacts } from './context.js';
import { answerMalformedRequest, installErrorHandling } from './error-handler.js';
import { allHandlers } from './handlers/index.js';
import { selectStreamProtocol } from './handlers/packets.js';
import followersPlugin from './plugins/followers.js';
import metricsPlugin from './plugins/metrics.js';
import requestContextPlugin, { apiReason, requestIdOptions } from './plugins/request-context.js';
import vpnsvcPlugin from './plugins/vpnsvc.js';
import type { Spec } from './spec.js';
import { validatorCompiler } from './validation.js';
import { webSocketRouteOf } from './websocket-route.js';

export interface AppOptions {
  vpnsvc: Vpnsvc;
  spec: Spec;
  host: HostFacts;
  tokens: TokenStore;
  loggerInstance?: FastifyBaseLogger;
  https?: { key: Buffer; cert: Buffer };
}

export async function buildApp({ vpnsvc, spec, host, tokens, loggerInstance, https }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...requestIdOptions,
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    ...(https ? { https } : {}),
    return503OnClosing: true,
    clientErrorHandler: answerMalformedRequest,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler(spec.componentSchemas));
  installErrorHandling(app);
  // curl scripts often send "Content-Type: application/json" with no body on DELETE or apply;
  // an empty body is "no body", and the schema decides whether one was required.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, body as string, done);
  });
  // One IP packet per body (POST /interfaces/{name}/packets).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 65535 }, (_request, body, done) =>
    done(null, body),
  );

  // permessage-deflate stays off: packets are already dense and compression costs CPU per packet.
  await app.register(fastifyWebsocket, {
    options: { perMessageDeflate: false, maxPayload: 1 << 20, handleProtocols: selectStreamProtocol },
  });
  await app.register(fastifySwagger, { mode: 'static', specification: { document: spec.document as never } });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(vpnsvcPlugin, { vpnsvc, spec, host });
  await app.register(requestContextPlugin);
  await app.register(followersPlugin);
  await app.register(metricsPlugin);

  const handlers = allHandlers(app);
  const served = new Set<string>();
  for (const route of spec.routes) {
    const handler = handlers[route.operationId];
    if (!handler) throw new Error(`openapi.yaml operation ${route.operationId} has no handler`);
    served.add(route.operationId);
    const websocket = webSocketRouteOf(handler);
    app.route({
      method: route.method,
      url: route.url,
      schema: route.schema,
      config: { operationId: route.operationId },
      ...(route.privileges ? { onRequest: requirePrivileges(tokens, route.privileges) } : {}),
      ...(websocket
        ? {
            preValidation: websocket.beforeUpgrade,
            // The upgraded socket's events name the request that opened it.
            wsHandler: (socket, request) => withReason(apiReason(request), () => websocket.handler(socket, request)),
          }
        : {}),
      handler: (request, reply) => handler(request as FastifyRequest, reply as FastifyReply),
    });
  }
  const extra = Object.keys(handlers).filter((id) => !served.has(id));
  if (extra.length > 0) throw new Error(`handlers without an openapi.yaml operation: ${extra.join(', ')}`);
  return app;
}
