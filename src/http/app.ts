/**
 * Builds the HTTP app as a plugin-composed Fastify instance over a Vpnsvc facade; it never
 * listens (the daemon does). Routes come from openapi.yaml: each operation's path, method,
 * schemas and privileges.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { ValidateFunction } from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type preSerializationAsyncHookHandler } from 'fastify';
import { parse as parseYaml } from 'yaml';
import {
  type BrowserSettings,
  DEFAULT_BROWSER_SETTINGS,
  DEFAULT_HTTP_LIMITS,
  type FollowerLimits,
  type HttpLimits,
} from '../config/config.js';
import { withReason } from '../engine/events.js';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import { invalidParameter, VpnsvcError } from '../errors/errors.js';
import type { TokenStore } from '../tokens/token-store.js';
import { requirePrivileges } from './auth.js';
import type { AnyHandler, HostFacts } from './context.js';
import { answerFrameworkError, answerMalformedRequest, installErrorHandling, MAX_PARAM_LENGTH } from './error-handler.js';
import { allHandlers } from './handlers/index.js';
import { selectStreamProtocol } from './handlers/packets.js';
import browserAuthPlugin from './plugins/browser-auth.js';
import connectionLimitsPlugin from './plugins/connection-limits.js';
import consolePlugin from './plugins/console.js';
import followersPlugin from './plugins/followers.js';
import httpContractPlugin from './plugins/http-contract.js';
import metricsPlugin from './plugins/metrics.js';
import ownSocketsPlugin from './plugins/own-sockets.js';
import requestContextPlugin, { apiReason, requestIdOptions } from './plugins/request-context.js';
import vpnsvcPlugin from './plugins/vpnsvc.js';
import { serializerCompiler } from './serialization.js';
import type { Spec } from './spec.js';
import { responseCheckCompiler, validatorCompiler } from './validation.js';
import { webSocketRouteOf } from './websocket-route.js';

export interface AppOptions {
  vpnsvc: Vpnsvc;
  spec: Spec;
  host: HostFacts;
  tokens: TokenStore;
  loggerInstance?: FastifyBaseLogger;
  https?: { key: Buffer; cert: Buffer };
  /**
   * Checks every JSON body a handler returns against its response schema before serialization;
   * a mismatch is a 500 that names it. For tests: fast-json-stringify would hide it.
   */
  checkResponses?: boolean;
  /** Timeouts and connection limits (default: DEFAULT_HTTP_LIMITS). */
  httpLimits?: HttpLimits;
  /** Caps on GET /events followers and the SSE keepalive (default: DEFAULT_FOLLOWER_LIMITS). */
  followers?: FollowerLimits;
  /** Browser sessions and the origins allowed besides the daemon's own (default: DEFAULT_BROWSER_SETTINGS). */
  browser?: BrowserSettings;
}

/**
 * The server's timeouts. Node's own options go to its constructor (it checks headers and request
 * timeouts every connectionsCheckingInterval, 30 s unless told); Fastify sets the others.
 */
function serverOptions(limits: HttpLimits, https: AppOptions['https']) {
  const node = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  return {
    ...(https ? { https: { ...https, ...node } } : { http: node }),
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
  };
}

/** A preSerialization hook that refuses a body the operation's response schema does not allow. */
function responseCheck(spec: Spec): preSerializationAsyncHookHandler<unknown> {
  const compile = responseCheckCompiler(spec.componentSchemas);
  const checks = new Map<string, ValidateFunction>();
  for (const { operationId, schema } of spec.operations) {
    for (const [status, s] of Object.entries(schema.response ?? {})) checks.set(`${operationId} ${status}`, compile(s));
  }
  return async (request, reply, payload) => {
    const key = `${request.routeOptions.config.operationId} ${reply.statusCode}`;
    const check = checks.get(key);
    if (check && !check(payload)) {
      const why = (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
      throw new VpnsvcError('VPNSVC_ERROR_IO_ERROR', `the response ${key} does not match openapi.yaml: ${why}`);
    }
    return payload;
  };
}

export async function buildApp({
  vpnsvc,
  spec,
  host,
  tokens,
  loggerInstance,
  https,
  checkResponses,
  httpLimits = DEFAULT_HTTP_LIMITS,
  followers,
  browser = DEFAULT_BROWSER_SETTINGS,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...requestIdOptions,
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    ...serverOptions(httpLimits, https),
    // The http-contract plugin answers requests that come while closing, with the one error body.
    return503OnClosing: false,
    clientErrorHandler: answerMalformedRequest,
    frameworkErrors: answerFrameworkError,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler(spec.componentSchemas));
  app.setSerializerCompiler(serializerCompiler(spec.componentSchemas));
  installErrorHandling(app);
  if (checkResponses) app.addHook('preSerialization', responseCheck(spec));
  // curl scripts often send "Content-Type: application/json" with no body on DELETE or apply;
  // an empty body is "no body", and the schema decides whether one was required.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, body as string, done);
  });
  // Documents and profiles also come as YAML, the form users write them in; the schema checks them as it checks JSON.
  app.addContentTypeParser('application/yaml', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      return done(null, parseYaml(body as string));
    } catch (err) {
      return done(invalidParameter(`the YAML body cannot be parsed: ${(err as Error).message.split('\n')[0]}`));
    }
  });
  // One IP packet per body (POST /interfaces/{name}/packets).
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 65535 }, (_request, body, done) => done(null, body));

  await app.register(connectionLimitsPlugin, httpLimits);
  // permessage-deflate stays off: packets are already dense and compression costs CPU per packet.
  await app.register(fastifyWebsocket, {
    options: { perMessageDeflate: false, maxPayload: 1 << 20, handleProtocols: selectStreamProtocol },
  });
  // Before /docs and the console, so their responses get its security headers.
  await app.register(browserAuthPlugin, {
    tokens,
    sessions: browser.sessions,
    corsOrigins: browser.corsOrigins,
    secure: https !== undefined,
  });
  await app.register(fastifySwagger, { mode: 'static', specification: { document: spec.document as never } });
  // Same-origin "Try it out" requests carry the console's session cookie.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null, withCredentials: true } });
  await app.register(consolePlugin);
  await app.register(vpnsvcPlugin, { vpnsvc, spec, host });
  await app.register(ownSocketsPlugin);
  await app.register(httpContractPlugin);
  await app.register(requestContextPlugin);
  await app.register(followersPlugin, followers ? { limits: followers } : {});
  await app.register(metricsPlugin);

  // Typed per operation; here they are paired with operations by operationId at run time.
  const handlers: Partial<Record<string, AnyHandler>> = allHandlers(app);
  const served = new Set<string>();
  for (const operation of spec.operations) {
    const handler = handlers[operation.operationId];
    if (!handler) throw new Error(`openapi.yaml operation ${operation.operationId} has no handler`);
    served.add(operation.operationId);
    const websocket = webSocketRouteOf(handler);
    app.route({
      method: operation.method,
      url: operation.url,
      schema: operation.schema,
      config: { operationId: operation.operationId },
      ...(operation.privileges ? { onRequest: requirePrivileges(tokens, operation.privileges) } : {}),
      ...(websocket
        ? {
            preValidation: websocket.beforeUpgrade,
            // The upgraded socket's events name the request that opened it.
            wsHandler: (socket, request) => withReason(apiReason(request), () => websocket.handler(socket, request)),
          }
        : {}),
      handler: (request, reply) => handler(request, reply),
    });
  }
  const extra = Object.keys(handlers).filter((id) => !served.has(id));
  if (extra.length > 0) throw new Error(`handlers without an openapi.yaml operation: ${extra.join(', ')}`);
  return app;
}
