/**
 * Connection limits beside the server's timeouts. Every connection starts unauthenticated and
 * becomes authenticated when a request on it presents a valid token (auth.ts calls
 * `authenticated`). Unauthenticated connections are held for at most `authTimeoutMs`, and at most
 * `maxUnauthenticatedConnections` of them at once: a new one closes the oldest. So clients
 * without a token cannot take the descriptors that clients with one need; authenticated
 * connections are bounded only by `maxConnections` and the timeouts.
 *
 * A response sent before its request's body was read (a 401 on a POST) closes the connection:
 * Node would otherwise go on reading, and waiting for, the rest of a body nobody wants.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { HttpLimits } from '../../config/config.js';

/**
 * Operations whose response may rightly stay silent longer than the idle timeout: a packet read
 * waits up to 60 s, the event stream until the client leaves. Each has bounds of its own; the
 * WebSocket routes need no entry, as ws turns the idle timeout off on upgrade.
 */
const LONG_LIVED_OPERATIONS = new Set(['readPacket', 'followEvents']);

interface Unauthenticated {
  since: number;
  /** The socket requests see: the TCP socket, or the TLS socket over it once its handshake is done. */
  socket: Socket;
}

export interface ClosedCounts {
  /** Unauthenticated connections closed because a newer one came while the cap was reached. */
  overCap: number;
  /** Unauthenticated connections closed for presenting no valid token within authTimeoutMs. */
  authTimeout: number;
  /** Connections the server refused because maxConnections were open. */
  overMaxConnections: number;
}

export class ConnectionLimits {
  /** Keyed by the TCP socket; a Map iterates in insertion order, so the first is the oldest. */
  private readonly unauthenticated = new Map<Socket, Unauthenticated>();
  private readonly tcpOf = new WeakMap<Socket, Socket>();
  readonly closed: ClosedCounts = { overCap: 0, authTimeout: 0, overMaxConnections: 0 };

  constructor(
    private readonly limits: Pick<HttpLimits, 'maxUnauthenticatedConnections' | 'authTimeoutMs'>,
    private readonly now: () => number = Date.now,
  ) {}

  get unauthenticatedCount(): number {
    return this.unauthenticated.size;
  }

  accepted(tcp: Socket): void {
    while (this.unauthenticated.size >= this.limits.maxUnauthenticatedConnections) {
      const [oldest, entry] = this.unauthenticated.entries().next().value as [Socket, Unauthenticated];
      this.unauthenticated.delete(oldest);
      this.closed.overCap++;
      entry.socket.destroy();
    }
    this.unauthenticated.set(tcp, { since: this.now(), socket: tcp });
    tcp.once('close', () => this.unauthenticated.delete(tcp));
  }

  /** A TLS connection's handshake is done: its requests come on `tls`, which is what to close. */
  secured(tls: Socket, tcp: Socket | undefined): void {
    if (!tcp) return;
    this.tcpOf.set(tls, tcp);
    const entry = this.unauthenticated.get(tcp);
    if (entry) entry.socket = tls;
  }

  /** A request on `socket` presented a valid token: the connection is no longer counted or timed. */
  authenticated(socket: Socket): void {
    this.unauthenticated.delete(this.tcpOf.get(socket) ?? socket);
  }

  /** Closes the unauthenticated connections older than authTimeoutMs; returns how many. */
  sweep(): number {
    const cutoff = this.now() - this.limits.authTimeoutMs;
    let n = 0;
    for (const [tcp, entry] of this.unauthenticated) {
      if (entry.since > cutoff) break;
      this.unauthenticated.delete(tcp);
      entry.socket.destroy();
      n++;
    }
    this.closed.authTimeout += n;
    return n;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    connectionLimits: ConnectionLimits;
  }
}

/** Whether a request still has body bytes on the wire that no one has read. */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export type ConnectionLimitsOptions = Pick<HttpLimits, 'maxConnections' | 'maxUnauthenticatedConnections' | 'authTimeoutMs'>;

async function connectionLimitsPlugin(app: FastifyInstance, options: ConnectionLimitsOptions): Promise<void> {
  const limits = new ConnectionLimits(options);
  app.decorate('connectionLimits', limits);
  const server = app.server;
  server.maxConnections = options.maxConnections;
  server.on('connection', (socket: Socket) => limits.accepted(socket));
  // The TLS socket wraps the TCP one, which node:tls keeps as _parent.
  server.on('secureConnection', (tls: Socket) => limits.secured(tls, (tls as unknown as { _parent?: Socket })._parent));
  server.on('drop', () => limits.closed.overMaxConnections++);

  // One sweep, and at most one log line, a second (sooner for a short auth timeout).
  let logged = { ...limits.closed };
  const timer = setInterval(
    () => {
      limits.sweep();
      const { closed } = limits;
      const since = {
        overCap: closed.overCap - logged.overCap,
        authTimeout: closed.authTimeout - logged.authTimeout,
        overMaxConnections: closed.overMaxConnections - logged.overMaxConnections,
      };
      if (since.overCap + since.authTimeout + since.overMaxConnections === 0) return;
      app.log.warn({ ...since, unauthenticated: limits.unauthenticatedCount }, 'closed connections over the connection limits');
      logged = { ...closed };
    },
    Math.max(50, Math.min(1000, options.authTimeoutMs / 4)),
  );
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  // The socket's idle timeout would cut a response that is rightly silent; Node restores the
  // timeouts when the response ends (keep-alive, then the idle timeout at the next request).
  app.addHook('preHandler', async (request) => {
    if (LONG_LIVED_OPERATIONS.has(request.routeOptions.config.operationId ?? '')) request.raw.socket?.setTimeout?.(0); // app.inject's socket has none
  });
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode === 401 || bodyPending(request.raw)) reply.header('connection', 'close');
  });
}

export default fp(connectionLimitsPlugin, { name: 'connection-limits', fastify: '5.x' });
