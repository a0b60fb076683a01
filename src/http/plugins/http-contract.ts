/**
 * The answers no route gives, kept in the contract: a method the path does not have (405 with
 * Allow; CONNECT too, and OPTIONS unless VPNSVC_CORS_ORIGINS serves CORS preflights), a body in a media type the
 * operation does not take (415), an HTTP/1.1 request without Host (400), an upgrade to an
 * operation that is no WebSocket or a handshake ws refuses (400), and a request that arrives
 * while the app closes (503). Every one is the standard error body of error-handler.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { invalidParameter, noSuchFile, VpnsvcError } from '../../errors/errors.js';
import { methodNotAllowed, sendError, unsupportedMediaType, writeRawError } from '../error-handler.js';

/** A path echoed in a message is cut here: it is the caller's own text. */
const MAX_ECHOED_PATH = 128;

function pathOf(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}…` : path;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether the operation answers 101: it upgrades to a WebSocket. */
function upgrades(spec: FastifyInstance['spec'], path: string, method: string): boolean {
  const paths = spec.document.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  return paths[path]?.[method.toLowerCase()]?.responses?.['101'] !== undefined;
}

async function httpContractPlugin(app: FastifyInstance): Promise<void> {
  const operations = new Map(
    app.spec.operations.map((o) => [
      o.operationId as string,
      { label: `${o.method} ${o.path}`, bodyTypes: o.bodyTypes, websocket: upgrades(app.spec, o.path, o.method) },
    ]),
  );

  /** The methods the router serves on this path (HEAD beside every GET), sorted. */
  const allowedMethods = (url: string): string[] => {
    const path = url.split('?')[0] ?? '';
    return app.supportedMethods.filter((method) => app.findRoute({ method, url: path }) !== null).sort();
  };

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.addHook('onRequest', async (request) => {
    // Fastify's own 503 while closing is off (return503OnClosing) because its body is not ours.
    if (closing) throw new VpnsvcError('VPNSVC_ERROR_IPC_FAILED', 'vpnsvc is shutting down; retry when it is back');
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw invalidParameter('an HTTP/1.1 request needs a Host header');
    }
    // @fastify/websocket would upgrade and at once close the socket of a route without a WebSocket.
    const operation = operations.get(request.routeOptions.config.operationId ?? '');
    if (request.ws && operation && !operation.websocket) throw invalidParameter(`${operation.label} does not upgrade to a WebSocket`);
  });
  // A handshake ws refuses (another Upgrade than websocket, a bad key or version) gets the one
  // body rather than ws's text/html answer; its messages name no value of the request.
  app.websocketServer.on('wsClientError', (err: Error, socket: Duplex) => {
    writeRawError(socket, invalidParameter(`WebSocket handshake refused: ${err.message}`));
  });

  // Before the body is read: a media type the operation does not list is refused unread.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const operation = operations.get(request.routeOptions.config.operationId ?? '');
    if (!operation || !hasBody(request)) return payload;
    if (operation.bodyTypes.length === 0) throw unsupportedMediaType(`${operation.label} takes no request body`);
    const media = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (media === undefined || !operation.bodyTypes.includes(media)) {
      throw unsupportedMediaType(`${operation.label} takes a body of ${operation.bodyTypes.join(' or ')}`);
    }
    return payload;
  });

  app.setNotFoundHandler((request, reply) => {
    const allow = allowedMethods(request.url);
    if (allow.length === 0) return sendError(reply, noSuchFile(`no such resource: ${request.method} ${pathOf(request.url)}`));
    return sendError(reply, methodNotAllowed(request.method, pathOf(request.url), allow));
  });

  // Node hands CONNECT to this event and, with no listener, drops the connection unanswered.
  const onConnect = (request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    const target = request.url ?? '';
    writeRawError(socket, methodNotAllowed('CONNECT', pathOf(target), target.startsWith('/') ? allowedMethods(target) : []));
  };
  // An expectation other than 100-continue is ignored, as RFC 9110 allows, rather than answered
  // with Node's 417 (a status outside the contract, with no body).
  const onExpectation = (request: IncomingMessage, response: ServerResponse) => app.server.emit('request', request, response);
  app.server.on('connect', onConnect);
  app.server.on('checkExpectation', onExpectation);
  app.addHook('onClose', async () => {
    app.server.off('connect', onConnect);
    app.server.off('checkExpectation', onExpectation);
  });
  // Node answers a request without Host with an empty 400 before any hook (its option
  // requireHostHeader, read from the server at each request); the hook above answers instead.
  (app.server as { requireHostHeader?: boolean }).requireHostHeader = false;
}

export default fp(httpContractPlugin, { name: 'http-contract', fastify: '5.x', dependencies: ['vpnsvc', '@fastify/websocket'] });
