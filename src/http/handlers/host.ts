/** GET /features, /health and /openapi.yaml: facts about the host and the contract. */
import type { FastifyInstance } from 'fastify';
import type { Health } from '../../contract/api-types.js';
import type { Handlers } from '../context.js';

export function hostHandlers({ host, spec }: FastifyInstance): Handlers {
  return {
    getFeatures: () => host.features(),
    getHealth: (): Health => ({ status: 'ok', uptimeSeconds: (Date.now() - host.startedAt) / 1000 }),
    getOpenapi: (_request, reply) => reply.type('application/yaml; charset=utf-8').send(spec.text),
  };
}
