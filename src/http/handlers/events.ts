/** GET /events (WebSocket, Server-Sent Events or a JSON backlog) and GET /metrics. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { VpnEvent } from '../../contract/api-types.js';
import type { EventBus } from '../../engine/events.js';
import type { Handler, Handlers, OperationRequest, RouteOf } from '../context.js';
import { withWebSocket } from '../websocket-route.js';

/** A follower further behind than this is cut off; it reconnects with its last seq. */
export const FOLLOWER_HIGH_WATER_BYTES = 1 << 20;
export const COUNTERS_MIN_INTERVAL_MS = 200;
const SSE_KEEPALIVE_MS = 15_000;

type EventsQuery = RouteOf<'followEvents'>['Querystring'];

type Message = VpnEvent | { type: string; seq: number; epoch: string; [k: string]: unknown };

function typeFilter(types: string | undefined): (e: Message) => boolean {
  const wanted = (types ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (wanted.length === 0) return () => true;
  return (e) => wanted.some((w) => e.type === w || e.type.startsWith(`${w}.`));
}

/** EventSource resumes with Last-Event-ID, which we write as "<epoch>:<seq>". */
function lastEventId(request: FastifyRequest): Pick<EventsQuery, 'since' | 'epoch'> {
  const m = /^([0-9a-f-]{36}):(\d{1,15})$/.exec(String(request.headers['last-event-id'] ?? ''));
  return m ? { epoch: m[1]!, since: Number(m[2]) } : {};
}

/** What a new follower gets first: hello, a loss notice if its position is gone, what it missed. */
function opening(bus: EventBus, q: EventsQuery, wanted: (e: Message) => boolean): Message[] {
  const hello: Message = { type: 'hello', seq: bus.headSeq, epoch: bus.epoch, oldestSeq: bus.oldestSeq };
  if (q.since === undefined) return [hello];
  const r = bus.after(q.since, q.epoch);
  const lost: Message[] = r.lost
    ? [
        {
          type: 'events.lost',
          seq: bus.headSeq,
          epoch: bus.epoch,
          data: { since: q.since, sinceEpoch: q.epoch ?? bus.epoch, oldestSeq: bus.oldestSeq },
        },
      ]
    : [];
  return [hello, ...lost, ...r.events.filter(wanted)];
}

/**
 * Subscribes a follower: live events, plus counters every countersMs. `send` returns false when
 * the follower is too far behind; it is then dropped. Returns the unsubscribe function.
 */
function follow(app: FastifyInstance, q: EventsQuery, send: (m: Message) => boolean, drop: () => void, end: () => void): () => void {
  const bus = app.vpnsvc.events;
  const wanted = typeFilter(q.types);
  const unsubscribe = bus.subscribe((e) => {
    // The daemon is going away: say so, then end the stream (not a network fault to retry at once).
    if (e.type === 'daemon.stopping') {
      send(e);
      end();
      return;
    }
    if (wanted(e) && !send(e)) drop();
  });
  const period = q.countersMs ? Math.max(COUNTERS_MIN_INTERVAL_MS, q.countersMs) : 0;
  const timer = period
    ? setInterval(() => {
        let interfaces: { name: string; counters: unknown }[] = [];
        try {
          interfaces = app.vpnsvc.list().map((i) => ({ name: i.name, counters: i.counters }));
        } catch {
          // the host lost the feature: nothing to count
        }
        // Not kept in the history; `seq` is the last event's, so resuming from it loses nothing.
        const m: Message = { type: 'counters', seq: bus.headSeq, epoch: bus.epoch, time: new Date().toISOString(), data: { interfaces } };
        if (!send(m)) drop();
      }, period)
    : undefined;
  return () => {
    unsubscribe();
    if (timer) clearInterval(timer);
  };
}

function eventsWebSocket(app: FastifyInstance) {
  const { followers, metrics } = app;
  return (socket: WebSocket, request: OperationRequest<'followEvents'>): void => {
    const q = request.query;
    let stop = (): void => undefined;
    const send = (m: Message): boolean => {
      if (socket.readyState !== socket.OPEN) return true;
      if (socket.bufferedAmount > FOLLOWER_HIGH_WATER_BYTES) return false;
      socket.send(JSON.stringify(m));
      return true;
    };
    const drop = (): void => {
      stop();
      metrics.followersDropped.inc({ transport: 'websocket' });
      // 1013 "try again later": reconnect with the last seq seen.
      socket.close(1013, 'follower too slow: reconnect with since=<last seq>');
    };
    for (const m of opening(app.vpnsvc.events, q, typeFilter(q.types))) send(m);
    stop = follow(app, q, send, drop, () => socket.close(1001, 'vpnsvc is shutting down'));
    followers.sockets.add(socket);
    socket.on('close', () => {
      followers.sockets.delete(socket);
      stop();
    });
    // The stream is one-way; whatever a client sends is ignored.
    socket.on('message', () => undefined);
  };
}

function eventsHttp(app: FastifyInstance): Handler<'followEvents'> {
  const { followers, metrics } = app;
  return (request, reply) => {
    const bus = app.vpnsvc.events;
    const q = { ...request.query, ...lastEventId(request) };
    const wanted = typeFilter(q.types);
    if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
      const r = bus.after(q.since ?? 0, q.epoch);
      return { epoch: bus.epoch, seq: bus.headSeq, oldestSeq: bus.oldestSeq, lost: r.lost, events: r.events.filter(wanted) };
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-request-id': request.id,
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    let stop = (): void => undefined;
    const send = (m: Message): boolean => {
      if (res.destroyed) return true;
      if (res.writableLength > FOLLOWER_HIGH_WATER_BYTES) return false;
      const id = m.type === 'counters' || m.type === 'hello' ? '' : `id: ${m.epoch}:${m.seq}\n`;
      res.write(`${id}event: ${m.type}\ndata: ${JSON.stringify(m)}\n\n`);
      return true;
    };
    const drop = (): void => {
      stop();
      metrics.followersDropped.inc({ transport: 'sse' });
      res.end();
    };
    for (const m of opening(bus, q, wanted)) send(m);
    stop = follow(app, q, send, drop, () => res.end());
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    followers.streams.add(res);
    res.on('close', () => {
      followers.streams.delete(res);
      clearInterval(keepalive);
      stop();
    });
  };
}

export function eventHandlers(app: FastifyInstance): Pick<Handlers, 'followEvents' | 'getMetrics'> {
  return {
    // One path: WebSocket when upgraded (nothing to refuse before the upgrade), else SSE or JSON.
    followEvents: withWebSocket(eventsHttp(app), { beforeUpgrade: async () => undefined, handler: eventsWebSocket(app) }),
    getMetrics: async (_request, reply) => {
      const { registry } = app.metrics;
      return reply
        .type(registry.contentType)
        .code(200)
        .send(await registry.metrics());
    },
  };
}
