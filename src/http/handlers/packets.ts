/**
 * The data plane over HTTP: vpnsvc_read and vpnsvc_write one packet at a time, and the binary
 * WebSocket stream (framings described in openapi.yaml, openPacketStream).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { FRAMINGS, framingOf, selectFraming } from '../../dataplane/framing.js';
import type { ClientStreamLease, Vpnsvc } from '../../engine/vpnsvc.js';
import { invalidParameter, VpnsvcError } from '../../errors/errors.js';
import type { Handlers, OperationRequest } from '../context.js';
import { withWebSocket } from '../websocket-route.js';

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

function attachStream(vpnsvc: Vpnsvc, ws: WebSocket, request: OperationRequest<'openPacketStream'>): void {
  const { name } = request.params;
  const framing = framingOf(ws.protocol);
  let lease: ClientStreamLease;
  try {
    lease = vpnsvc.openClientStream(
      name,
      {
        ws,
        connection: request.raw.socket,
        options: request.server.websocketServer.options as Record<string, unknown>,
        // A reset or a protocol error: the stream's end follows.
        failed: (err) => request.log.debug({ err, iface: name }, 'packet stream socket failed'),
      },
      framing,
      (why, moved) => request.log.info({ iface: name, framing, moved, why }, 'packet stream closed'),
    );
  } catch (err) {
    // Lost a race with another client or a deinit between the checks and the upgrade.
    ws.close(1013, err instanceof VpnsvcError ? err.message.slice(0, 120) : 'stream unavailable');
    return;
  }
  request.log.info({ iface: name, framing, thread: lease.thread }, 'packet stream attached');
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
