/**
 * Operational plumbing for every route: request ids, the reason carried into engine events,
 * request-duration metrics, and the followers of GET /events (closed before the server stops).
 * Registered once by buildApp, before the routes; its hooks apply to the whole app.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { WebSocket } from 'ws';
import type { VpnEngine } from '../../engine/engine.js';
import { withReason, type EmitFields } from '../../engine/events.js';
import type { AppContext } from '../context.js';
import { createMetrics, type Metrics } from './metrics.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Changes made through other domains' operations, as events, for domains that do not emit
 * their own yet: after a successful call, unless the call already emitted an event itself (then
 * this stays silent, so a domain that starts emitting needs no change here).
 */
export const API_EVENTS: Record<string, string> = {
  addRoutes: 'route.added',
  removeRoute: 'route.removed',
  removeRoutes: 'route.removed',
  addDnsServer: 'dns.added',
  removeDnsServer: 'dns.removed',
  addSearchDomain: 'dns.domain.added',
  removeSearchDomain: 'dns.domain.removed',
  blockNetworks: 'firewall.blocked',
  unblockNetworks: 'firewall.unblocked',
  protectSocket: 'socket.protected',
};

/** The data plane's packet stream (issue 5): its WebSocket path. */
const STREAM_PATH = /^\/interfaces\/([^/?]+)\/stream(?:\?|$)/;

/** Large batches (10,000 routes) are summarized, not copied into every follower's stream. */
const EVENT_BODY_ITEMS = 16;

function eventData(request: FastifyRequest): Record<string, unknown> {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = request.body as unknown;
  if (Array.isArray(body)) {
    return { ...params, count: body.length, items: body.slice(0, EVENT_BODY_ITEMS), ...(body.length > EVENT_BODY_ITEMS && { truncated: true }) };
  }
  const fields = body && typeof body === 'object' && !Buffer.isBuffer(body) ? (body as Record<string, unknown>) : {};
  return { ...params, ...fields };
}

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

/** The live followers of GET /events. */
export class Followers {
  readonly sockets = new Set<WebSocket>();
  readonly streams = new Set<ServerResponse>();

  get count(): number {
    return this.sockets.size + this.streams.size;
  }

  /**
   * When the app closes without a daemon.stopping event first (which ends followers itself):
   * SSE streams end so the server can close; @fastify/websocket closes the sockets.
   */
  closeAll(): void {
    for (const r of this.streams) r.end();
  }
}

export interface OperationsState {
  metrics: Metrics;
  followers: Followers;
}

const states = new WeakMap<VpnEngine, OperationsState>();

/** One state per engine, shared by the plugin's hooks and the route handlers. */
export function operationsState({ engine }: Pick<AppContext, 'engine'>): OperationsState {
  let state = states.get(engine);
  if (!state) {
    const followers = new Followers();
    const metrics = createMetrics({ interfaces: () => engine.list(), eventFollowers: () => followers.count });
    // Events from before the app existed (daemon.started, daemon.recovered) count too.
    for (const e of engine.events.after(0).events) metrics.eventsEmitted.inc({ type: e.type });
    engine.events.subscribe((e) => metrics.eventsEmitted.inc({ type: e.type }));
    state = { metrics, followers };
    states.set(engine, state);
  }
  return state;
}

export async function operationsPlugin(app: FastifyInstance, { context }: { context: AppContext }): Promise<void> {
  const { metrics, followers } = operationsState(context);
  const bus = context.engine.events;
  const eventMark = new WeakMap<FastifyRequest, number>();
  const upgrades = new WeakMap<IncomingMessage, FastifyRequest>();

  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });

  // Runs the handler inside the request's reason, so events it causes name the token and request.
  app.addHook('preHandler', (request, _reply, done) => {
    withReason({ source: 'api', ...(request.token && { token: request.token.id }), requestId: request.id }, done);
  });

  app.addHook('onRequest', async (request) => {
    eventMark.set(request, bus.headSeq);
    if (request.headers.upgrade) upgrades.set(request.raw, request);
  });

  // Packet streams attached and detached, for a data plane that does not emit these itself.
  const emitUnlessEmitted = (mark: number, type: string, name: string, fields: Omit<EmitFields, 'interface'>) =>
    // A tick later: the data plane's own handler runs after the connection event.
    setImmediate(() => {
      if (!bus.after(mark).events.some((e) => e.type === type && e.interface === name)) bus.emit(type, { interface: name, ...fields });
    });
  // At shutdown every WebSocket (packet streams too) closes with 1001 "going away", after the
  // event followers (synchronous listeners) have sent daemon.stopping on theirs.
  const unsubscribe = bus.subscribe((e) => {
    if (e.type !== 'daemon.stopping' || !app.websocketServer) return;
    setImmediate(() => {
      for (const client of app.websocketServer.clients) client.close(1001, 'vpnsvc is shutting down');
    });
  });
  app.websocketServer?.on('connection', (socket: WebSocket, raw: IncomingMessage) => {
    const m = STREAM_PATH.exec(raw.url ?? '');
    if (!m) return;
    const name = decodeURIComponent(m[1]!);
    const request = upgrades.get(raw);
    const reason = { source: 'api' as const, ...(request?.token && { token: request.token.id }), ...(request && { requestId: request.id }) };
    emitUnlessEmitted(bus.headSeq, 'stream.attached', name, { data: { protocol: socket.protocol || null }, reason });
    socket.once('close', (code: number) => {
      emitUnlessEmitted(bus.headSeq, 'stream.detached', name, { data: { code }, reason: { source: 'stream', detail: `WebSocket closed with ${code}` } });
    });
  });

  app.addHook('onResponse', async (request, reply) => {
    const type = API_EVENTS[request.routeOptions.config.operationId ?? ''];
    if (type && reply.statusCode < 300) {
      const since = eventMark.get(request) ?? bus.headSeq;
      const own = bus.after(since).events.some((e) => e.reason.requestId === request.id);
      if (!own) {
        const active = context.engine.activeInterface()?.name;
        bus.emit(type, {
          ...(active !== undefined && { interface: active }),
          data: eventData(request),
          reason: { source: 'api', ...(request.token && { token: request.token.id }), requestId: request.id },
        });
      }
    }
    // The route template (not the URL) keeps label values bounded; unmatched paths share one.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.addHook('preClose', async () => {
    followers.closeAll();
  });
  app.addHook('onClose', async () => {
    unsubscribe();
  });
}
// Hooks must reach every route, not just this plugin's scope (what fastify-plugin does).
(operationsPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
