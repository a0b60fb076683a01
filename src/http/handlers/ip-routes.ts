/** /routes: vpnsvc_add_route and vpnsvc_remove_route on the active interface, singly or in bulk. */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

export function ipRouteHandlers({
  vpnsvc,
}: FastifyInstance): Pick<Handlers, 'addRoutes' | 'listRoutes' | 'removeRoutes' | 'removeRoute' | 'getRoutingPolicy'> {
  return {
    addRoutes: async (request, reply) => {
      const body = request.body;
      if (Array.isArray(body)) return reply.code(201).send({ added: await vpnsvc.addRoutes(body) });
      return reply.code(201).send(await vpnsvc.addRoute(body));
    },
    listRoutes: () => vpnsvc.listRoutes(),
    getRoutingPolicy: () => vpnsvc.routingPolicy(),
    removeRoutes: async (request, reply) => {
      await vpnsvc.removeRoutes(request.body);
      return reply.code(204).send();
    },
    removeRoute: async (request, reply) => {
      await vpnsvc.removeRoute(request.params);
      return reply.code(204).send();
    },
  };
}
