/**
 * The data plane over HTTP: vpnsvc_read and vpnsvc_write one packet at a time, and the binary
 * WebSocket stream (framings described in openapi.yaml, openPacketStream).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { FRAMING_PACKET, FRAMINGS, framingOf, MAX_PACKET, selectFraming } from '../../dataplane/framing.js';
import type { PacketSocket } from '../../dataplane/packet-channel.js';
import type { StreamLease, Vpnsvc } from '../../engine/vpnsvc.js';
import { invalidParameter, VpnsvcError } from '../../errors/errors.js';
import type { Handlers, OperationRequest } from '../context.js';
import { withWebSocket } from '../websocket-route.js';

/** A client that answers no ping for this long is dropped, which frees the interface's stream. */
export const STREAM_KEEPALIVE_MS = 30_000;

/**
 * ws's handleProtocols: the first framing the client offers that we know; none when it offers
 * none (the default framing). Offers with only unknown names were refused before the upgrade.
 */
export function selectStreamProtocol(offered: Set<string>): string | false {
  return selectFraming(offered);
}

function offeredProtocols(request: FastifyRequest): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (!header) return [];
  return String(header)
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Adapts a ws WebSocket and its TCP socket to what the data plane needs. */
function packetSocket(ws: WebSocket, request: FastifyRequest): PacketSocket {
  const tcp = request.raw.socket;
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data) => ws.send(data),
    cork: () => tcp.cork(),
    uncork: () => tcp.uncork(),
  };
}

function attachStream(vpnsvc: Vpnsvc, ws: WebSocket, request: OperationRequest<'openPacketStream'>): void {
  const { name } = request.params;
  const framing = framingOf(ws.protocol);
  let lease: StreamLease;
  try {
    // A close reason is at most 123 bytes; ws throws on a longer one.
    lease = vpnsvc.openStream(name, packetSocket(ws, request), framing, (why) => ws.close(1001, why.slice(0, 120)));
  } catch (err) {
    // Lost a race with another client or a deinit between the checks and the upgrade.
    ws.close(1013, err instanceof VpnsvcError ? err.message.slice(0, 120) : 'stream unavailable');
    return;
  }
  const { stream } = lease;
  const maxMessage = framing === FRAMING_PACKET ? MAX_PACKET : Infinity; // ws enforces maxPayload
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      stream.reject();
      ws.close(1003, 'binary messages only');
      return;
    }
    const buf = data as Buffer;
    if (buf.length > maxMessage) {
      stream.reject();
      ws.close(1009, `one packet per message, at most ${MAX_PACKET} bytes`);
      return;
    }
    stream.receive(buf);
  });
  let alive = true;
  ws.on('pong', () => (alive = true));
  const keepalive = setInterval(() => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    if (ws.readyState === ws.OPEN) ws.ping();
  }, STREAM_KEEPALIVE_MS);
  keepalive.unref();
  // A reset or a protocol error: 'close' follows and does the cleanup.
  ws.on('error', (err) => request.log.debug({ err, iface: name }, 'packet stream socket failed'));
  ws.on('close', (code: number) => {
    clearInterval(keepalive);
    lease.detach(`WebSocket closed with ${code}`);
    request.log.info({ iface: name, framing, moved: stream.moved }, 'packet stream closed');
  });
  request.log.info({ iface: name, framing }, 'packet stream attached');
}

export function packetHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, 'readPacket' | 'writePacket' | 'openPacketStream'> {
  return {
    readPacket: async (request, reply) => {
      const { timeoutMs } = request.query;
      const abandoned = new AbortController();
      const onClose = () => abandoned.abort();
      request.raw.once('close', onClose);
      try {
        const packet = await vpnsvc.read(request.params.name, timeoutMs, abandoned.signal);
        return reply.type('application/octet-stream').code(200).send(packet);
      } finally {
        request.raw.off('close', onClose);
      }
    },
    writePacket: (request) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw invalidParameter('body must be one IP packet sent as application/octet-stream');
      }
      return { bytes: vpnsvc.write(request.params.name, body) };
    },
    openPacketStream: withWebSocket(
      () => {
        throw invalidParameter('this is a WebSocket endpoint: send "Connection: Upgrade" and "Upgrade: websocket"');
      },
      {
        beforeUpgrade: async (request) => {
          if (!request.ws) return; // the HTTP handler explains
          const offered = offeredProtocols(request);
          if (offered.length > 0 && !offered.some((p) => FRAMINGS.has(p))) {
            throw invalidParameter(`Sec-WebSocket-Protocol offers none of ${[...FRAMINGS].join(', ')}`);
          }
          // A second client is refused here; the holder keeps its stream.
          vpnsvc.requireStreamFree(request.params.name);
        },
        handler: (ws, request) => attachStream(vpnsvc, ws, request),
      },
    ),
  };
}
