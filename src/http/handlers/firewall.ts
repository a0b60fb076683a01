/** /firewall and /protect: vpnsvc_block_networks, vpnsvc_unblock_networks, vpnsvc_protect. */
import type { FastifyInstance } from 'fastify';
import type { FirewallBlock, ProtectSocket } from '../../contract/api-types.js';
import type { Handlers } from '../context.js';

export function firewallHandlers({ vpnsvc }: FastifyInstance): Handlers {
  return {
    getFirewall: () => vpnsvc.firewallState(),
    blockNetworks: (request) => vpnsvc.blockNetworks(request.body as FirewallBlock),
    unblockNetworks: async (_request, reply) => {
      await vpnsvc.unblockNetworks();
      return reply.code(204).send();
    },
    protectSocket: async (request, reply) => {
      const { pid, fd, interface: ifname } = request.body as ProtectSocket;
      vpnsvc.protect(pid, fd, ifname);
      return reply.code(204).send();
    },
  };
}
