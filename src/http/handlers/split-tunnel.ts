/** /split-tunnel: split tunnelling by user (uid ranges) and by program (cgroup v2 paths). */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

export function splitTunnelHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, 'getSplitTunnel' | 'setSplitTunnel' | 'clearSplitTunnel'> {
  return {
    getSplitTunnel: () => vpnsvc.splitTunnel(),
    setSplitTunnel: (request) => vpnsvc.setSplitTunnel(request.body),
    clearSplitTunnel: async (_request, reply) => {
      await vpnsvc.clearSplitTunnel();
      return reply.code(204).send();
    },
  };
}
