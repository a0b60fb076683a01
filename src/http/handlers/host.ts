import type { Health } from '../../contract/api-types.js';
import type { AppContext, Handlers } from '../context.js';

export function hostHandlers(ctx: AppContext): Handlers {
  return {
    getFeatures: () => ctx.features(),
    getHealth: (): Health => ({ status: 'ok', uptimeSeconds: (Date.now() - ctx.startedAt) / 1000 }),
    getOpenapi: (_request, reply) => reply.type('application/yaml; charset=utf-8').send(ctx.spec.text),
  };
}
