/** /config: the whole VPN as one document, planned, applied all or nothing, confirmed or reverted. */
import type { FastifyInstance } from 'fastify';
import type { ConfigOptions } from '../../engine/vpnsvc.js';
import type { Handlers } from '../context.js';

/** The query's dryRun and confirmWithinS, as the engine takes them. */
export function configOptions(query: { dryRun?: boolean; confirmWithinS?: number }): ConfigOptions {
  return {
    ...(query.dryRun !== undefined && { dryRun: query.dryRun }),
    ...(query.confirmWithinS !== undefined && { confirmWithinS: query.confirmWithinS }),
  };
}

export function configHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, 'getConfig' | 'putConfig' | 'confirmConfig'> {
  return {
    getConfig: () => vpnsvc.getConfig(),
    // The revert timer lives in the engine: a caller that goes away after this answer still gets reverted.
    putConfig: (request) => vpnsvc.putConfig(request.body, configOptions(request.query)),
    confirmConfig: async (_request, reply) => {
      vpnsvc.confirmConfig();
      return reply.code(204).send();
    },
  };
}
