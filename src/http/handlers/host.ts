/** GET /features, /health and /openapi.yaml: facts about the host and the contract. */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

export function hostHandlers({ host, spec }: FastifyInstance): Pick<Handlers, 'getFeatures' | 'getHealth' | 'getOpenapi'> {
  return {
    getFeatures: () => host.features(),
    getHealth: () => ({ status: 'ok', uptimeSeconds: (Date.now() - host.startedAt) / 1000 }),
    getOpenapi: (_request, reply) => reply.type('application/yaml; charset=utf-8').code(200).send(spec.text),
  };
}
