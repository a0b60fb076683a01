/** /dns: vpnsvc_add_dns_server and vpnsvc_remove_dns_server, and search domains, on the active interface. */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

export function dnsHandlers({
  vpnsvc,
}: FastifyInstance): Pick<Handlers, 'getDns' | 'addDnsServer' | 'removeDnsServer' | 'addSearchDomain' | 'removeSearchDomain'> {
  return {
    getDns: () => vpnsvc.dns(),
    addDnsServer: async (request, reply) => reply.code(201).send(await vpnsvc.addDnsServer(request.body.server)),
    removeDnsServer: async (request, reply) => {
      await vpnsvc.removeDnsServer(request.params.server);
      return reply.code(204).send();
    },
    addSearchDomain: async (request, reply) => reply.code(201).send(await vpnsvc.addSearchDomain(request.body.domain)),
    removeSearchDomain: async (request, reply) => {
      await vpnsvc.removeSearchDomain(request.params.domain);
      return reply.code(204).send();
    },
  };
}
