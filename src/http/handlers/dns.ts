/** /dns: vpnsvc_add_dns_server and vpnsvc_remove_dns_server, and search domains, on the active interface. */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

export function dnsHandlers({ vpnsvc }: FastifyInstance): Handlers {
  return {
    getDns: () => vpnsvc.dns(),
    addDnsServer: async (request, reply) => {
      const { server } = request.body as { server: string };
      return reply.code(201).send(await vpnsvc.addDnsServer(server));
    },
    removeDnsServer: async (request, reply) => {
      await vpnsvc.removeDnsServer((request.params as { server: string }).server);
      return reply.code(204).send();
    },
    addSearchDomain: async (request, reply) => {
      const { domain } = request.body as { domain: string };
      return reply.code(201).send(await vpnsvc.addSearchDomain(domain));
    },
    removeSearchDomain: async (request, reply) => {
      await vpnsvc.removeSearchDomain((request.params as { domain: string }).domain);
      return reply.code(204).send();
    },
  };
}
