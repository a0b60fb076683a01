import type { Route } from '../../contract/api-types.js';
import { noSuchFile } from '../../errors/errors.js';
import type { VpnEngine } from '../../engine/engine.js';
import type { AppContext, Handlers } from '../context.js';

function activeName(engine: VpnEngine): string {
  const iface = engine.activeInterface();
  if (!iface) throw noSuchFile('no VPN interface is active: create one with POST /interfaces');
  return iface.name;
}

export function routesDnsHandlers({ engine, routes, dns }: AppContext): Handlers {
  return {
    addRoutes: async (request, reply) => {
      const body = request.body as Route | Route[];
      const name = activeName(engine);
      if (Array.isArray(body)) {
        return reply.code(201).send({ added: await routes.addRoutes(name, body) });
      }
      return reply.code(201).send(await routes.addRoute(name, body));
    },
    listRoutes: () => routes.listRoutes(activeName(engine)),
    removeRoutes: async (request, reply) => {
      await routes.removeRoutes(activeName(engine), request.body as Route[]);
      return reply.code(204).send();
    },
    removeRoute: async (request, reply) => {
      await routes.removeRoute(activeName(engine), request.params as Route);
      return reply.code(204).send();
    },
    getDns: () => dns.view(),
    addDnsServer: async (request, reply) => {
      const { server } = request.body as { server: string };
      return reply.code(201).send(await dns.addDnsServer(activeName(engine), server));
    },
    removeDnsServer: async (request, reply) => {
      await dns.removeDnsServer(activeName(engine), (request.params as { server: string }).server);
      return reply.code(204).send();
    },
    addSearchDomain: async (request, reply) => {
      const { domain } = request.body as { domain: string };
      return reply.code(201).send(await dns.addSearchDomain(activeName(engine), domain));
    },
    removeSearchDomain: async (request, reply) => {
      await dns.removeSearchDomain(activeName(engine), (request.params as { domain: string }).domain);
      return reply.code(204).send();
    },
  };
}
