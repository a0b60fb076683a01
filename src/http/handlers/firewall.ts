/** /firewall and /protect: vpnsvc_block_networks, vpnsvc_unblock_networks, vpnsvc_protect. */
import type { FastifyInstance } from 'fastify';
import { callerOf } from '../auth.js';
import type { Handlers } from '../context.js';

export function firewallHandlers({
  vpnsvc,
}: FastifyInstance): Pick<Handlers, 'getFirewall' | 'blockNetworks' | 'unblockNetworks' | 'protectSocket'> {
  return {
    getFirewall: () => vpnsvc.firewallState(),
    blockNetworks: (request) => vpnsvc.blockNetworks(request.body),
    unblockNetworks: async (_request, reply) => {
      await vpnsvc.unblockNetworks();
      return reply.code(204).send();
    },
    protectSocket: async (request, reply) => {
      const { pid, fd, interface: ifname } = request.body;
      // the engine decides whether this caller may reach the process
      vpnsvc.protect(pid, fd, ifname, callerOf(request));
      return reply.code(204).send();
    },
  };
}
