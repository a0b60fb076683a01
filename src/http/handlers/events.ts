/** GET /events (WebSocket, Server-Sent Events or a JSON backlog) and GET /metrics. */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { VpnEvent } from '../../contract/api-types.js';
import type { EventBus } from '../../engine/events.js';
import type { Handler, Handlers, OperationRequest, RouteOf } from '../context.js';
import type { FollowerSlot } from '../plugins/followers.js';
import { withWebSocket } from '../websocket-route.js';

/** A follower further behind than this is cut off; it reconnects with its last seq. */
export const FOLLOWER_HIGH_WATER_BYTES = 1 << 20;
export const COUNTERS_MIN_INTERVAL_MS = 200;
/** A follower that was told to go (close frame, end of stream) and does not read it is cut after this. */
export const FOLLOWER_CLOSE_GRACE_MS = 1000;
const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

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

const KEEPALIVE = Buffer.from(': keepalive\n\n');

/**
 * One serialization per message, shared by every follower: a backlog queued for many followers
 * holds one copy of each event (write queues keep references to the Buffer, not copies).
 */
const frames = new WeakMap<Message, { json?: Buffer; sse?: Buffer }>();

function framesOf(m: Message): { json?: Buffer; sse?: Buffer } {
  let f = frames.get(m);
  if (!f) {
    f = {};
    frames.set(m, f);
  }
  return f;
}

function jsonFrame(m: Message): Buffer {
  const f = framesOf(m);
  f.json ??= Buffer.from(JSON.stringify(m));
  return f.json;
}

function sseFrame(m: Message): Buffer {
  const f = framesOf(m);
  if (!f.sse) {
    const id = m.type === 'counters' || m.type === 'hello' ? '' : `id: ${m.epoch}:${m.seq}\n`;
    f.sse = Buffer.concat([Buffer.from(`${id}event: ${m.type}\ndata: `), jsonFrame(m), Buffer.from('\n\n')]);
  }
  return f.sse;
}

type Transport = 'sse' | 'websocket';

/** One transport's side of a follower. */
interface Sink {
  readonly transport: Transport;
  /** What this process holds for the follower that the kernel has not taken yet, in bytes. */
  queued(): number;
  write(m: Message): void;
  /** SSE only: a comment line, so that proxies and idle timers keep a quiet stream open. */
  keepalive?: () => void;
  /** Ends the stream its transport's way: too far behind, or the daemon is going away. */
  end(why: 'behind' | 'stopping'): void;
  destroy(): void;
}

/**
 * A follower from its first message to its connection's close: live events, counters every
 * countersMs, the SSE keepalive. Everything that writes stops at once when it is dropped or its
 * connection closes or fails; nothing is written after that.
 */
class Follower {
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private grace: NodeJS.Timeout | undefined;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly app: FastifyInstance,
    private readonly request: FastifyRequest,
    private readonly sink: Sink,
    private readonly slot: FollowerSlot,
  ) {
    slot.end = () => this.finish();
  }

  start(q: EventsQuery): void {
    const bus = this.app.vpnsvc.events;
    const wanted = typeFilter(q.types);
    for (const m of opening(bus, q, wanted)) this.send(m);
    if (this.stopped) return;
    this.unsubscribe = bus.subscribe((e) => {
      // The daemon is going away: say so, then end the stream (not a network fault to retry at once).
      if (e.type === 'daemon.stopping') this.finish(e);
      else if (wanted(e)) this.send(e);
    });
    const period = q.countersMs ? Math.max(COUNTERS_MIN_INTERVAL_MS, q.countersMs) : 0;
    if (period) this.every(period, () => this.send(this.counters()));
    const { keepalive } = this.sink;
    if (keepalive) this.every(this.app.followers.limits.sseKeepaliveMs, () => this.guarded(keepalive));
  }

  /** The connection closed or failed: stop writing and give the place back. */
  closed(): void {
    this.stop();
    clearTimeout(this.grace);
    this.slot.release();
  }

  private send(m: Message): void {
    this.guarded(() => this.sink.write(m));
  }

  private guarded(write: () => void): void {
    if (this.stopped) return;
    const queued = this.sink.queued();
    if (queued > FOLLOWER_HIGH_WATER_BYTES) this.drop(queued);
    else write();
  }

  private drop(queued: number): void {
    this.stop();
    this.app.metrics.followersDropped.inc({ transport: this.sink.transport });
    this.request.log.info({ transport: this.sink.transport, queued }, 'event follower dropped: too far behind');
    this.end('behind');
  }

  private finish(last?: Message): void {
    if (last) this.send(last);
    if (this.stopped) return;
    this.stop();
    this.end('stopping');
  }

  /** A client that does not take its last bytes within the grace loses its connection anyway. */
  private end(why: 'behind' | 'stopping'): void {
    this.sink.end(why);
    this.grace = setTimeout(() => this.sink.destroy(), FOLLOWER_CLOSE_GRACE_MS);
    this.grace.unref();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    for (const t of this.timers) clearInterval(t);
  }

  private every(ms: number, tick: () => void): void {
    const timer = setInterval(tick, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private counters(): Message {
    const bus = this.app.vpnsvc.events;
    let interfaces: { name: string; counters: unknown }[] = [];
    try {
      interfaces = this.app.vpnsvc.list().map((i) => ({ name: i.name, counters: i.counters }));
    } catch {
      // the host lost the feature: nothing to count
    }
    // Not kept in the history; `seq` is the last event's, so resuming from it loses nothing.
    return { type: 'counters', seq: bus.headSeq, epoch: bus.epoch, time: new Date().toISOString(), data: { interfaces } };
  }
}

function webSocketSink(ws: WebSocket): Sink {
  return {
    transport: 'websocket',
    queued: () => ws.bufferedAmount,
    write: (m) => {
      if (ws.readyState === ws.OPEN) ws.send(jsonFrame(m), { binary: false });
    },
    end: (why) => {
      if (ws.readyState !== ws.OPEN) return;
      // 1013 "try again later": reconnect with the last seq seen.
      if (why === 'behind') ws.close(1013, 'follower too slow: reconnect with since=<last seq>');
      else ws.close(1001, 'vpnsvc is shutting down');
    },
    destroy: () => ws.terminate(),
  };
}

function sseSink(res: ServerResponse): Sink {
  const writable = () => !res.destroyed && !res.writableEnded;
  return {
    transport: 'sse',
    queued: () => res.writableLength,
    write: (m) => {
      if (writable()) res.write(sseFrame(m));
    },
    keepalive: () => {
      if (writable()) res.write(KEEPALIVE);
    },
    // Behind: the end of the stream would queue behind what the client does not read.
    end: (why) => (why === 'behind' ? res.destroy() : writable() && res.end()),
    destroy: () => res.destroy(),
  };
}

/** Admitted before the upgrade (an ordinary error body when full), taken by the upgraded socket. */
const admitted = new WeakMap<object, FollowerSlot>();

function tokenOf(request: FastifyRequest): string {
  // /events requires a token (any privileges), so the hook has set it.
  return request.token?.id ?? '';
}

function eventsWebSocket(app: FastifyInstance) {
  const { followers } = app;
  return (ws: WebSocket, request: OperationRequest<'followEvents'>): void => {
    const slot = admitted.get(request.raw);
    admitted.delete(request.raw);
    if (!slot) {
      ws.terminate();
      return;
    }
    const follower = new Follower(app, request, webSocketSink(ws), slot);
    followers.sockets.add(ws);
    const closed = () => {
      followers.sockets.delete(ws);
      follower.closed();
    };
    ws.on('close', closed);
    ws.on('error', (err) => {
      request.log.debug({ err }, 'event follower socket failed');
      closed();
      ws.terminate();
    });
    // The stream is one-way; whatever a client sends is ignored.
    ws.on('message', () => undefined);
    follower.start(request.query);
  };
}

async function beforeUpgrade(app: FastifyInstance, request: OperationRequest<'followEvents'>): Promise<void> {
  if (!request.ws) return;
  const slot = app.followers.admit(tokenOf(request));
  admitted.set(request.raw, slot);
  // An upgrade that never completes (the client left, a bad handshake) gives its place back too.
  const tcp = request.raw.socket;
  if (tcp.destroyed) slot.release();
  else tcp.once('close', () => slot.release());
}

function eventsHttp(app: FastifyInstance): Handler<'followEvents'> {
  const { followers } = app;
  return (request, reply) => {
    const bus = app.vpnsvc.events;
    const q = { ...request.query, ...lastEventId(request) };
    if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
      const r = bus.after(q.since ?? 0, q.epoch);
      return { epoch: bus.epoch, seq: bus.headSeq, oldestSeq: bus.oldestSeq, lost: r.lost, events: r.events.filter(typeFilter(q.types)) };
    }
    if (request.method === 'HEAD') {
      // What a stream would answer, without the stream (the spec's body types have no "none").
      (reply as FastifyReply).code(200).header('content-type', SSE_CONTENT_TYPE).header('cache-control', 'no-store').send();
      return reply;
    }
    const slot = followers.admit(tokenOf(request));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': SSE_CONTENT_TYPE,
      'cache-control': 'no-store',
      'x-request-id': request.id,
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    const follower = new Follower(app, request, sseSink(res), slot);
    followers.streams.add(res);
    const closed = () => {
      followers.streams.delete(res);
      follower.closed();
    };
    res.on('error', (err) => {
      request.log.debug({ err }, 'event follower stream failed');
      res.destroy();
    });
    // A client gone before this handler ran: its 'close' has been emitted already.
    if (res.destroyed) {
      closed();
      return;
    }
    res.once('close', closed);
    follower.start(q);
  };
}

export function eventHandlers(app: FastifyInstance): Pick<Handlers, 'followEvents' | 'getMetrics'> {
  return {
    // One path: WebSocket when upgraded (refused before the upgrade when full), else SSE or JSON.
    followEvents: withWebSocket(eventsHttp(app), {
      beforeUpgrade: (request) => beforeUpgrade(app, request),
      handler: eventsWebSocket(app),
    }),
    getMetrics: async (_request, reply) => {
      const { registry } = app.metrics;
      return reply
        .type(registry.contentType)
        .code(200)
        .send(await registry.metrics());
    },
  };
}
