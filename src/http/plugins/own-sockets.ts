/**
 * Keeps the API's own traffic out of a full tunnel: the listening socket gets the service's
 * mark (SO_MARK) when it starts listening, and the kernel gives every connection accepted on it
 * the same mark (from the SYN-ACK on), the packet stream's WebSocket among them. Policy routing
 * then sends those packets by the original network, as wg-quick's mark does for its UDP socket.
 * A unix-socket listener routes nothing and is left alone.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** The fd behind a Node net handle (libuv keeps it on `_handle.fd`), or undefined. */
function handleFd(o: unknown): number | undefined {
  const fd = (o as { _handle?: { fd?: unknown } } | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

async function ownSocketsPlugin(app: FastifyInstance): Promise<void> {
  app.server.on('listening', () => {
    const address = app.server.address();
    if (address === null || typeof address === 'string') return;
    const fd = handleFd(app.server);
    if (fd === undefined) return;
    try {
      app.vpnsvc.markOwnSocket(fd);
    } catch (err) {
      app.log.warn({ err }, 'cannot mark the API listener (SO_MARK): a full tunnel would capture its connections');
    }
  });
}

export default fp(ownSocketsPlugin, { name: 'own-sockets', fastify: '5.x', dependencies: ['vpnsvc'] });
